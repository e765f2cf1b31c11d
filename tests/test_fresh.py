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


def sleeper_writing_its_pid(path) -> str:
    return f"import os, time; open({str(path)!r}, 'w').write(str(os.getpid())); time.sleep(60)"


def pid_written_to(path, within: float = 60.0) -> int:
    deadline = time.monotonic() + within
    while not (path.exists() and path.read_text()):
        assert time.monotonic() < deadline, "the served process never started"
        time.sleep(0.05)
    return int(path.read_text())


def ends_within(pid: int, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] in "ZX":
                return True
        except OSError:
            return True
        time.sleep(0.05)
    return False


def test_a_served_process_ends_when_its_client_is_killed(served, tmp_path):
    client = os.fork()
    if client == 0:  # a check, waiting on the server without a timeout of its own
        try:
            fresh.run_python(sleeper_writing_its_pid(tmp_path / "pid"))
        finally:
            os._exit(0)
    served_pid = pid_written_to(tmp_path / "pid")
    os.kill(client, 9)
    os.waitpid(client, 0)
    assert ends_within(served_pid), "the served process outlived the client that asked for it"


def test_server_and_its_forks_end_when_the_process_that_started_it_is_killed(tmp_path):
    code = ("import os, sys, threading, time; from conformance import fresh; fresh.ensure_server(); "
            f"threading.Thread(target=fresh.run_python, args=({sleeper_writing_its_pid(tmp_path / 'pid')!r},), "
            "daemon=True).start(); print(fresh.server_pid(), flush=True); "
            f"[time.sleep(0.05) for _ in iter(lambda: os.path.exists({str(tmp_path / 'pid')!r}), True)]; "
            "time.sleep(0.2); os.kill(os.getpid(), 9)")
    env = {k: v for k, v in os.environ.items() if k != fresh.ADDRESS_VARIABLE}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                          env=dict(env, PYTHONPATH=str(ROOT)), timeout=120)
    assert done.returncode == -9, done.stderr
    server, served_pid = int(done.stdout.split()[-1]), pid_written_to(tmp_path / "pid")
    assert ends_within(server) and ends_within(served_pid)
