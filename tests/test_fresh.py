"""The fresh-process server: a forked process must behave like ``python -c`` started anew."""

import json
import os
import pickle
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conformance import fresh

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="the server forks; without fork every run is a real interpreter")

REPORT = """
import json, os, random, sys
import numpy as np, torch
print(json.dumps({"argv": sys.argv, "stdin": sys.stdin.read(), "main": sorted(k for k in vars(sys.modules["__main__"]) if not k.startswith("__")),
                  "conformance_loaded": any(m.split(".")[0] == "conformance" for m in sys.modules),
                  "parent": os.getppid(), "cwd": os.getcwd(), "marker": os.environ.get("FRESH_MARKER"),
                  "draws": [random.random(), float(np.random.rand()), float(torch.rand(1))],
                  "threads": torch.get_num_threads()}))
"""


@pytest.fixture(scope="module")
def served():
    address = fresh.ensure_server()
    assert address is not None and os.path.exists(address)
    return address


def report(**kwargs):
    done = fresh.run_python(REPORT, ["one", "two"], input=b"from stdin", text=True, timeout=120, **kwargs)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_served_process_looks_like_a_new_interpreter(served, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    first = report(env=dict(os.environ, FRESH_MARKER="set"))
    second = report()
    assert first["parent"] != os.getpid()  # served: forked by the server, not started by us
    assert first["argv"] == ["-c", "one", "two"] and first["stdin"] == "from stdin"
    assert first["main"] == ["json", "np", "os", "random", "sys", "torch"]  # only what the script defined
    assert first["conformance_loaded"] is False and first["cwd"] == str(tmp_path)
    assert first["marker"] == "set" and second["marker"] is None
    for a, b in zip(first["draws"], second["draws"]):
        assert a != b  # python's, numpy's and torch's global RNGs reseeded, as in a new interpreter


def test_thread_variables_are_applied_to_torch(served):
    assert report(env=dict(os.environ, OMP_NUM_THREADS="1"))["threads"] == 1


def test_startup_only_variables_get_a_real_interpreter(served):
    done = report(env=dict(os.environ, PYTHONHASHSEED="123"))
    assert done["parent"] == os.getpid()


def test_exit_statuses_match_the_interpreter(served):
    assert fresh.run_python("raise SystemExit(3)", timeout=120).returncode == 3
    assert fresh.run_python("import os; os.kill(os.getpid(), 11)", timeout=120).returncode == -11
    failed = fresh.run_python("1 / 0", timeout=120, text=True)
    assert failed.returncode == 1 and failed.stderr.rstrip().endswith("ZeroDivisionError: division by zero")
    assert "fresh.py" not in failed.stderr  # the traceback starts at the script, as with python -c


def test_timeout_kills_the_served_process(served):
    start = time.monotonic()
    with pytest.raises(subprocess.TimeoutExpired):
        fresh.run_python("import time; time.sleep(60)", timeout=1)
    assert time.monotonic() - start < 10


class DefinedInMain:
    pass


def test_pickle_of_a_main_class_fails_to_load_as_in_a_new_interpreter(served, monkeypatch):
    monkeypatch.setattr(DefinedInMain, "__module__", "__main__")
    monkeypatch.setattr(sys.modules["__main__"], "DefinedInMain", DefinedInMain, raising=False)
    payload = pickle.dumps(DefinedInMain())
    done = fresh.run_python("import pickle, sys; pickle.loads(sys.stdin.buffer.read())", input=payload, timeout=120,
                            text=True)
    assert done.returncode == 1 and "DefinedInMain" in done.stderr


def test_server_stops_when_the_process_that_started_it_exits():
    code = ("from conformance import fresh; import os, sys; fresh.ensure_server(); "
            "print(fresh._server.pid, flush=True)")
    env = {k: v for k, v in os.environ.items() if k != fresh.ADDRESS_VARIABLE}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                          env=dict(env, PYTHONPATH=str(ROOT)), timeout=120)
    pid = int(done.stdout.split()[-1])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
        if Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z":
            break
        time.sleep(0.2)
    assert not Path(f"/proc/{pid}").exists() or Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
