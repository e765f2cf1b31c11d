"""Fresh Python processes for the checks that need one, without paying an interpreter start each.

Some rules can only be tested in a process that has never seen the estimator: a pickle loads
where its classes are not defined, a fit in another process gives the same model. Starting
``python`` for each costs 3 to 4 s of CPU, almost all of it importing numpy, scikit-learn and
torch. So the suite starts one *fresh-process server* per run: an interpreter started clean
(its own hash seed, no estimator module imported, no fit, no torch op run) that imports those
libraries once and then forks one process per request. Each forked process is made to look
like a new interpreter before the script runs: a new empty ``__main__``, no conformance modules,
the request's environment, argv and working directory, and new entropy in python's, numpy's and
torch's global RNGs. Thread-count variables (``OMP_NUM_THREADS`` and friends) are applied with
``torch.set_num_threads`` and threadpoolctl, since the libraries read them only when loaded.

A request whose environment changes anything else that only matters when an interpreter starts
(``PYTHONHASHSEED``, ``LD_*``, ``CUDA_*``...), or made when no server runs, starts a real
interpreter instead: :func:`run_python` gives the same ``CompletedProcess`` either way.

Nothing of it outlives the run: the server ends when the suite's process ends (its stdin
closes, or the kernel signals it), killing its forks as it goes; a fork ends when its client
disconnects (a check killed for its timeout), taking the fresh process's group with it.

This module imports only the standard library (and :mod:`conformance.lifetime`, which does
too), so the server starts as clean as ``python -c``.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile

ADDRESS_VARIABLE = "CONFORMANCE_FRESH_SERVER"
_LISTENER_VARIABLE = "CONFORMANCE_FRESH_SERVER_FD"
_PARENT_VARIABLE = "CONFORMANCE_FRESH_SERVER_PARENT"
_PYTHON_VARIABLE = "CONFORMANCE_FRESH_SERVER_PYTHON"  # the interpreter the server emulates
PRELOAD = ("numpy", "scipy.sparse", "sklearn", "sklearn.base", "sklearn.model_selection", "torch", "torch._dynamo")
EMULATED_THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
_STARTUP_PREFIXES = ("PYTHON", "LD_", "CUDA", "DYLD_", "MALLOC", "KMP_", "GOMP_", "TORCH")
_SERVER_MAIN = "from conformance.fresh import serve; serve()"

_server: subprocess.Popen | None = None
_address: str | None = None


# --- the client side ---------------------------------------------------------------------------

def run_python(script: str, args=(), *, input: bytes | None = None, env: dict | None = None,
               timeout: float | None = None, text: bool = False) -> subprocess.CompletedProcess:
    """Run ``python -c script *args`` in a fresh process; like ``subprocess.run(..., capture_output=True)``.

    ``input`` is bytes; ``text`` decodes the captured output as UTF-8.
    Served by the fresh-process server when one runs and ``env`` allows it, else a new
    interpreter. Raises ``subprocess.TimeoutExpired`` after ``timeout`` seconds (the process is
    killed first).
    """
    env = dict(os.environ if env is None else env)
    address = _address or _inherited_address()
    if address and _server_can_emulate(env):
        try:
            done = _request(address, script, list(args), input or b"", env, timeout)
        except ConnectionError:
            done = None  # the server is gone: a real interpreter gives the same answer, slower
        if done is not None:
            return _decoded(done) if text else done
    done = subprocess.run([sys.executable, "-c", script, *args], input=input, capture_output=True,
                          env=env, timeout=timeout)
    return _decoded(done) if text else done


def ensure_server() -> str | None:
    """Start this run's fresh-process server unless one is known; returns its address (or None).

    Call it in the suite's own process before forking checks: forked children and pytest-xdist
    workers started afterwards find the server through a module global and an environment
    variable. The server stops when the process that started it exits.
    """
    global _server, _address
    address = _address or _inherited_address()
    if address and os.path.exists(address):
        _address = address
        return address
    if not (hasattr(os, "fork") and hasattr(socket, "AF_UNIX")):
        return None
    folder = tempfile.mkdtemp(prefix="conformance-fresh-")
    address = os.path.join(folder, "server.sock")
    # Listening here, before the server starts: requests made while it imports wait in the backlog.
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(address)
    listener.listen(64)
    env = _server_environment()
    env[_LISTENER_VARIABLE] = str(listener.fileno())
    env[_PARENT_VARIABLE] = str(os.getpid())
    try:
        _server = subprocess.Popen([sys.executable, "-c", _SERVER_MAIN], stdin=subprocess.PIPE,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                                   pass_fds=[listener.fileno()])
    except OSError:
        shutil.rmtree(folder, ignore_errors=True)
        return None
    finally:
        listener.close()
    _address = address
    os.environ[ADDRESS_VARIABLE] = address
    os.environ[_PYTHON_VARIABLE] = sys.executable
    atexit.register(_stop_server, _server, folder, os.getpid())
    return address


def server_pid() -> int | None:
    """The pid of the server this process started, or None."""
    return _server.pid if _server is not None else None


def _inherited_address() -> str | None:
    """The address of a server started by an ancestor running this same interpreter, or None.

    A process of another interpreter (another venv) inherits the variable too; a server of the
    wrong interpreter would answer for a fresh process that this one would never start.
    """
    if os.environ.get(_PYTHON_VARIABLE) != sys.executable:
        return None
    return os.environ.get(ADDRESS_VARIABLE)


def _server_environment() -> dict:
    """The server's environment: ours, with hash randomisation on and our import path."""
    env = dict(os.environ)
    env.pop("PYTHONHASHSEED", None)  # a fresh process as users start it
    env.pop(ADDRESS_VARIABLE, None)
    env.pop(_PYTHON_VARIABLE, None)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    return env


def _server_can_emulate(env: dict) -> bool:
    """False when ``env`` changes a variable that only takes effect when an interpreter starts."""
    server_env = _server_environment()
    for name in set(env) | set(server_env):
        if name in EMULATED_THREAD_VARIABLES or name in ("PYTHONPATH", ADDRESS_VARIABLE, _LISTENER_VARIABLE,
                                                         _PARENT_VARIABLE, _PYTHON_VARIABLE):
            continue
        if name.startswith(_STARTUP_PREFIXES) or "NUM_THREADS" in name:
            if env.get(name) != server_env.get(name):
                return False
    return True


def _stop_server(server: subprocess.Popen, folder: str, owner: int) -> None:
    if os.getpid() != owner:  # a forked child exiting normally must not stop the parent's server
        return
    try:
        server.stdin.close()  # the server exits when its stdin closes
        server.wait(timeout=5)
    except Exception:  # noqa: BLE001 - shutting down: kill it rather than hang
        server.kill()
    shutil.rmtree(folder, ignore_errors=True)


def _request(address: str, script: str, args: list, stdin: bytes, env: dict, timeout):
    """One request to the server; ``None`` if it refused, the finished process otherwise."""
    with tempfile.TemporaryDirectory(prefix="conformance-run-") as folder:
        paths = {name: os.path.join(folder, name) for name in ("stdin", "stdout", "stderr")}
        with open(paths["stdin"], "wb") as handle:
            handle.write(stdin)
        request = {"script": script, "args": args, "env": env, "cwd": os.getcwd(), **paths}
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
            try:
                connection.connect(address)
            except OSError as exc:
                raise ConnectionError(str(exc)) from exc
            connection.sendall(json.dumps(request).encode() + b"\n")
            reader = connection.makefile("rb")
            connection.settimeout(timeout)
            pid = None
            try:
                pid = int(_reply(reader, "pid"))
                status = int(_reply(reader, "status"))
            except socket.timeout:
                if pid is not None:
                    _kill_group(pid)
                raise subprocess.TimeoutExpired([sys.executable, "-c", script, *args], timeout) from None
        with open(paths["stdout"], "rb") as out, open(paths["stderr"], "rb") as err:
            stdout, stderr = out.read(), err.read()
    code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
    return subprocess.CompletedProcess([sys.executable, "-c", script, *args], code, stdout, stderr)


def _reply(reader, key: str) -> str:
    line = reader.readline()
    if not line:
        raise ConnectionError("the fresh-process server closed the connection")
    return json.loads(line)[key]


def _decoded(done: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    return subprocess.CompletedProcess(done.args, done.returncode, done.stdout.decode("utf-8", "replace"),
                                       done.stderr.decode("utf-8", "replace"))


def _kill_group(pid: int) -> None:
    for kill in (os.killpg, os.kill):
        try:
            kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


# --- the server side ---------------------------------------------------------------------------

class _Stopped(BaseException):
    """The server or one of its forks was told to stop (a BaseException: no ``except Exception`` stops it)."""


def _stop(signal_number, frame):
    raise _Stopped(signal_number)


def serve() -> None:
    """The server's main loop: preload the libraries, then fork a handler per connection.

    It ends when the suite's process does (stdin closes, or the kernel sends SIGTERM), or on
    SIGTERM, SIGINT or SIGHUP, and then stops every handler it forked (each kills its fresh
    process's group).
    """
    import select

    from conformance.lifetime import CANCEL_SIGNALS, die_with_parent

    listener = socket.socket(fileno=int(os.environ.pop(_LISTENER_VARIABLE)))
    for number in CANCEL_SIGNALS:
        signal.signal(number, _stop)
    die_with_parent(int(os.environ.pop(_PARENT_VARIABLE, os.getppid())), signal.SIGTERM)
    handlers: set[int] = set()
    try:
        _preload()
        while True:
            ready, _, _ = select.select([listener, sys.stdin], [], [], 1.0)
            _reap_handlers(handlers)  # waited for, not ignored: their CPU time then counts in the suite's own
            if sys.stdin in ready and not os.read(sys.stdin.fileno(), 4096):
                return  # the suite's process is gone
            if listener in ready:
                connection, _ = listener.accept()
                handlers.add(_fork_handler(listener, connection))
    except _Stopped:
        return
    finally:
        for pid in handlers:
            _signal(pid, signal.SIGTERM)


def _fork_handler(listener: socket.socket, connection: socket.socket) -> int:
    server = os.getpid()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            listener.close()
            code = _handle(connection, server)
        except _Stopped:
            pass
        finally:
            os._exit(code)
    connection.close()
    return pid


def _reap_handlers(handlers: set[int]) -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        handlers.discard(pid)


def _signal(pid: int, signal_number: int) -> None:
    try:
        os.kill(pid, signal_number)
    except (ProcessLookupError, PermissionError):
        pass


def _preload() -> None:
    import importlib

    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - a missing library is simply not preloaded
            pass


def _handle(connection: socket.socket, server: int) -> int:
    """Read one request, fork the fresh process, report its pid and then its exit status.

    The fresh process is killed, with its group, when this handler is stopped (the server
    ended) or when the client disconnects before it finishes (the check was killed).
    """
    from conformance.lifetime import die_with_parent

    die_with_parent(server, signal.SIGTERM)
    request = json.loads(connection.makefile("rb").readline())
    handler = os.getpid()
    pid = os.fork()
    if pid == 0:
        connection.close()
        _become_fresh_and_run(request, handler)  # never returns
    try:
        connection.sendall(json.dumps({"pid": pid}).encode() + b"\n")
        status = _wait_while_connected(pid, connection)
    except (_Stopped, OSError):
        status = None
    if status is None:
        _kill_group(pid)
        return 1
    connection.sendall(json.dumps({"status": status}).encode() + b"\n")
    return 0


def _wait_while_connected(pid: int, connection: socket.socket) -> int | None:
    """``pid``'s wait status once it ends, or None as soon as the client hangs up."""
    import select

    ended = _pidfd(pid)
    while True:
        ready, _, _ = select.select([connection] + ([ended] if ended is not None else []), [], [],
                                    None if ended is not None else 0.05)
        if connection in ready and not connection.recv(1, socket.MSG_PEEK):
            return None
        done, status = os.waitpid(pid, 0 if ended in ready else os.WNOHANG)
        if done:
            return status


def _pidfd(pid: int) -> int | None:
    """A file descriptor readable once ``pid`` ends (Linux 5.3+), or None: then the wait polls."""
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


def _become_fresh_and_run(request: dict, handler: int) -> None:
    from conformance.lifetime import die_with_parent, reset_signal_handlers

    code = 1
    try:
        die_with_parent(handler)
        reset_signal_handlers()  # as a new interpreter has them
        os.setpgid(0, 0)  # so a timeout kills whatever the script started too
        _redirect(request)
        _reset_interpreter(request)
        namespace = sys.modules["__main__"].__dict__
        code = _run_script(request["script"], namespace)
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001 - nothing left to report it to
                pass
        os._exit(code)


def _redirect(request: dict) -> None:
    for fd, path, mode in ((0, request["stdin"], os.O_RDONLY), (1, request["stdout"], os.O_WRONLY),
                           (2, request["stderr"], os.O_WRONLY)):
        opened = os.open(path, mode | (os.O_CREAT | os.O_TRUNC if fd else 0), 0o600)
        os.dup2(opened, fd)
        os.close(opened)
    sys.stdin = sys.__stdin__ = open(0, "r", closefd=False)
    sys.stdout = sys.__stdout__ = open(1, "w", closefd=False)
    sys.stderr = sys.__stderr__ = open(2, "w", closefd=False)


def _reset_interpreter(request: dict) -> None:
    """Make this forked process look like a new ``python -c`` of the request."""
    import random
    import types

    for name in [m for m in sys.modules if m == "conformance" or m.startswith("conformance.")]:
        del sys.modules[name]
    main = types.ModuleType("__main__")
    main.__dict__["__builtins__"] = __builtins__
    sys.modules["__main__"] = main
    os.environ.clear()
    os.environ.update(request["env"])
    os.chdir(request["cwd"])
    sys.argv = ["-c", *request["args"]]
    extra = [p for p in request["env"].get("PYTHONPATH", "").split(os.pathsep) if p and p not in sys.path]
    sys.path[1:1] = extra
    random.seed()
    if "numpy" in sys.modules:
        sys.modules["numpy"].random.seed()
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.random.default_generator.seed()
    _apply_thread_variables(request["env"], torch)


def _apply_thread_variables(env: dict, torch) -> None:
    counts = [int(env[name]) for name in EMULATED_THREAD_VARIABLES if env.get(name, "").isdigit()]
    if not counts:
        return
    if torch is not None and env.get("OMP_NUM_THREADS", "").isdigit():
        torch.set_num_threads(int(env["OMP_NUM_THREADS"]))
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return
    threadpool_limits(min(counts))


def _run_script(script: str, namespace: dict) -> int:
    import traceback

    try:
        exec(compile(script, "<string>", "exec"), namespace)  # noqa: S102 - this is python -c
    except SystemExit as stop:
        if stop.code is None or isinstance(stop.code, int):
            return stop.code or 0
        print(stop.code, file=sys.stderr)
        return 1
    except BaseException as exc:  # noqa: BLE001 - as the interpreter does: print it, exit 1
        traceback.print_exception(type(exc), exc, exc.__traceback__.tb_next)  # from the script's frame on
        return 1
    return 0
