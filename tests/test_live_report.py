"""The report on disk during the run: the same document as the final one, replaced whole each time."""

import json

from conformance.live_report import LiveReportFile
from conformance.report import EstimatorReport, Report
from conformance.result import Result


def a_report(n_results: int, **fields) -> Report:
    row = EstimatorReport("Ridge", "sklearn.linear_model:Ridge", {"alpha": "1.0"}, kind="regressor")
    row.results = [Result(f"sklearn.check_{i}", "sklearn", "failed" if i % 3 else "passed",
                          f"line one | {i}\n  reproduce with:\n    assert x", 0.1 * i, warnings=["w"] if i % 2 else [])
                   for i in range(n_results)]
    return Report(estimators=[row, EstimatorReport("Empty", None, {})], **fields)


def test_report_text_is_exactly_json_dump_of_the_report():
    for report in (Report(), a_report(5), a_report(2, state="cancelled", cancelled_by="SIGTERM"),
                   Report(state="usage_error", target_errors=[{"target": "m:X", "error": "e", "stack": []}])):
        assert report.json_text() == json.dumps(report.to_dict(), indent=2, default=repr)


def test_a_result_added_after_a_write_is_in_the_next_one():
    report = a_report(2)
    first = json.loads(report.json_text())
    report.estimators[0].results.append(Result("sklearn.check_late", "sklearn", "skipped", "m", cancelled=True))
    rows = json.loads(report.json_text())["estimators"][0]["results"]
    assert len(first["estimators"][0]["results"]) == 2 and len(rows) == 3
    assert rows[-1]["cancelled"] is True and "cancelled" not in rows[0]


def test_live_file_holds_a_complete_report_after_every_update_and_the_final_state_at_the_end(tmp_path):
    path = tmp_path / "r.json"
    live, report = LiveReportFile(path, max_share=1.0), a_report(0, state="running")
    for i in range(3):
        report.estimators[0].results.append(Result(f"sklearn.check_{i}", "sklearn", "passed"))
        live.update(report)
        on_disk = json.loads(path.read_text())
        assert on_disk["state"] == "running" and len(on_disk["estimators"][0]["results"]) == i + 1
    report.state = "finished"
    live.finish(report)
    assert json.loads(path.read_text())["state"] == "finished"
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]  # no temporary file left behind


def test_results_arriving_fast_at_the_start_of_a_run_are_each_written_at_once(tmp_path):
    path = tmp_path / "r.json"
    live, report = LiveReportFile(path), a_report(0, state="running")  # the defaults, as a run has them
    for i in range(20):  # milliseconds apart, like sklearn's checks of a small estimator
        report.estimators[0].results.append(Result(f"sklearn.check_{i}", "sklearn", "passed"))
        live.update(report)
        assert len(json.loads(path.read_text())["estimators"][0]["results"]) == i + 1


def test_rewrites_past_their_share_of_the_run_wait_and_the_final_write_always_happens(tmp_path):
    path = tmp_path / "r.json"
    live, report = LiveReportFile(path, max_share=1e-9, free_s=0.0), a_report(1, state="running")
    live.update(report)  # the first write: nothing spent yet
    report.estimators[0].results.append(Result("sklearn.check_more", "sklearn", "passed"))
    live.update(report)  # over the share: deferred
    assert len(json.loads(path.read_text())["estimators"][0]["results"]) == 1
    live.finish(report)
    assert len(json.loads(path.read_text())["estimators"][0]["results"]) == 2
