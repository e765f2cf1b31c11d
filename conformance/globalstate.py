"""Process-wide state an estimator can leak: capture it, compare it, put it back.

Used two ways: the hygiene check compares the state before and after each call of the
estimator, and the runner restores it after every check run in-process, so one estimator's leak
cannot change another check's verdict. (A check run in a child process leaks nothing by
construction.)

The settings are one table of :class:`Setting` rows (:func:`current_settings`), each naming the
Python expression that reads it, so a reproduction can assert exactly what changed. Threads and
child processes are captured too; they cannot be put back, only reported (:meth:`GlobalState.left_running`).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import random
import re
import signal
import sys
import threading
import time
import warnings
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Callable

import numpy as np

from conformance.lifetime import guard_pid, proc_children

# How long a thread or child process started by a call may take to end before it counts as left running.
GRACE_S = 1.0
# Threads whose name starts with this belong to the suite, never to the estimator under test.
SUITE_THREAD_PREFIX = "conformance"
# Some settings are linked (the TF32 flags and torch's newer fp32_precision ones): putting one
# back can disturb another, so restoring makes a second pass over what still differs.
RESTORE_PASSES = 3
# The import line for each module a setting's expression may name.
_IMPORTS = {"os": "import os", "sys": "import sys", "signal": "import signal", "logging": "import logging",
            "warnings": "import warnings", "np": "import numpy as np", "sklearn": "import sklearn",
            "torch": "import torch"}


def _show(value) -> str:
    """A value as messages show it: callables by qualified name, long reprs shortened."""
    if callable(value) and hasattr(value, "__qualname__") and not isinstance(value, type):
        text = f"{getattr(value, '__module__', None) or '?'}.{value.__qualname__}"
    else:
        text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


def _show_filter(entry) -> str:
    """A ``warnings.filters`` entry in the ``-W action:message:category:module:lineno`` form."""
    action, message, category, module, lineno = entry
    parts = [action, getattr(message, "pattern", message or ""), category.__name__,
             getattr(module, "pattern", module or ""), str(lineno or "")]
    return repr(":".join(parts).rstrip(":"))


@dataclass(frozen=True)
class Setting:
    """One process-wide setting: the expression that reads it, a getter and a restorer.

    ``expr`` is what a reproduction evaluates (``get()`` returns the same value); ``put``
    is ``None`` where the setting cannot be put back. ``absent``: ``None`` means "not set", so
    a change from or to ``None`` is an addition or a removal (an environment variable).
    """

    expr: str
    get: Callable[[], Any]
    put: Callable[[Any], None] | None = None
    label: str = ""
    absent: bool = False
    show: Callable[[Any], str] = _show

    @property
    def name(self) -> str:
        """How messages name the setting."""
        return self.label or self.expr

    @property
    def imports(self) -> list[str]:
        """The import lines ``expr`` needs in a fresh interpreter."""
        return [line for root, line in _IMPORTS.items() if re.search(rf"(?<![\w.'\"]){root}\.", self.expr)]

    def read(self):
        try:
            return self.get()
        except Exception as exc:  # noqa: BLE001 - a setting that cannot be read is a value too
            first = (str(exc).strip().splitlines() or [""])[0]
            return Unreadable(f"{type(exc).__name__}: {first}")


@dataclass(frozen=True)
class Unreadable:
    """What reading a setting raised (torch refuses to read some settings once others are mixed in)."""

    error: str

    def __repr__(self) -> str:
        return f"<reading it raises {self.error[:80]}>"


@dataclass(frozen=True)
class Change:
    """One setting whose value differs between two captures."""

    setting: Setting
    before: Any
    after: Any

    def __str__(self) -> str:
        setting = self.setting
        if setting.absent and self.before is None:
            return f"added {setting.name} = {setting.show(self.after)}"
        if setting.absent and self.after is None:
            return f"removed {setting.name} (was {setting.show(self.before)})"
        if isinstance(self.before, list) and isinstance(self.after, list):
            return f"changed {setting.name}: {_list_difference(self.before, self.after, setting.show)}"
        return f"changed {setting.name}: {setting.show(self.before)} -> {setting.show(self.after)}"


def _list_difference(before: list, after: list, show) -> str:
    added = [show(item) for item in after if item not in before]
    removed = [show(item) for item in before if item not in after]
    parts = ([f"added {', '.join(added)}"] if added else []) + ([f"removed {', '.join(removed)}"] if removed else [])
    return "; ".join(parts) or "reordered"


@dataclass
class GlobalState:
    """A capture of the process-wide state: the settings, the global RNGs, threads and child processes."""

    settings: dict  # expression -> (Setting, value)
    rng: dict  # RNG states, compared separately (they are large)
    threads: frozenset = field(default_factory=frozenset)
    children: dict = field(default_factory=dict)  # pid -> command name

    @classmethod
    def capture(cls) -> "GlobalState":
        return cls(_read(current_settings()), _rng_states(), running_threads(), child_processes())

    def changes(self, later: "GlobalState") -> list[Change]:
        """Every setting whose value differs in ``later``, in the table's order."""
        return _changes(self.settings, later.settings)

    def rng_changes(self, later: "GlobalState") -> list[str]:
        """Names of the global RNGs whose state changed."""
        return [name for name, state in self.rng.items() if not _same_state(state, later.rng.get(name))]

    def left_running(self, later: "GlobalState", grace_s: float = GRACE_S) -> list[str]:
        """What started between the two captures and is still running ``grace_s`` later.

        Threads and child processes that existed at this capture, and the suite's own, never count.
        """
        deadline = time.monotonic() + grace_s
        threads = _threads_still_running(later.threads - self.threads, deadline)
        children = _children_still_running({pid: name for pid, name in later.children.items()
                                            if pid not in self.children}, deadline)
        return (_counted("thread", "threads", [f"{t.name} (daemon)" if t.daemon else t.name for t in threads])
                + _counted("child process", "child processes", [f"pid {pid} ({name})" for pid, name in children.items()]))

    def restore(self) -> list[str]:
        """Put back the global RNGs and every setting changed since this capture that can be put back.

        Returns the names of the settings still changed afterwards (read-only ones, or a restorer
        that raised); a setting that resists never keeps the others from being put back.
        """
        for _ in range(RESTORE_PASSES):
            pending = [change for change in self._since() if change.setting.put is not None]
            if not pending:
                break
            for change in pending:
                try:
                    change.setting.put(change.after)
                except Exception:  # noqa: BLE001 - reported by name below
                    pass
        _restore_rngs(self.rng)
        return [change.setting.name for change in self._since()]

    def _since(self) -> list[Change]:
        """The changes from now back to this capture: ``after`` is the captured value."""
        return _changes(_read(current_settings()), self.settings)


def _threads_still_running(threads, deadline: float) -> list:
    threads = sorted(threads, key=lambda thread: thread.name)
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    return [thread for thread in threads if thread.is_alive()]


def _children_still_running(children: dict, deadline: float) -> dict:
    while children and time.monotonic() < deadline:
        time.sleep(0.05)
        running = child_processes()
        children = {pid: name for pid, name in children.items() if pid in running}
    return children


def _counted(one: str, many: str, items: list[str]) -> list[str]:
    return [f"left {len(items)} {one if len(items) == 1 else many} running: {', '.join(items)}"] if items else []


def _read(settings: list[Setting]) -> dict:
    return {setting.expr: (setting, setting.read()) for setting in settings}


def _changes(before: dict, after: dict) -> list[Change]:
    found = []
    for expr, (setting, value) in before.items():
        if expr in after:
            later = after[expr][1]
        elif setting.absent:
            later = None
        else:
            continue  # gone from the table (a logger removed from logging's registry): nothing to compare
        if not _same_state(value, later):
            found.append(Change(setting, value, later))
    found += [Change(setting, None, value) for expr, (setting, value) in after.items()
              if expr not in before and setting.absent and value is not None]
    return found


# --- the table -----------------------------------------------------------------------------------

def current_settings() -> list[Setting]:
    """Every process-wide setting this process has now: Python's, numpy's, and sklearn's and
    torch's where they are imported (this never imports them, nor initialises CUDA)."""
    settings = _python_settings() + _numpy_settings()
    if "sklearn" in sys.modules:
        settings += _entries("sklearn.get_config()", sys.modules["sklearn"].get_config, sys.modules["sklearn"].set_config)
    if "torch" in sys.modules:
        settings += _torch_settings(sys.modules["torch"])
    return settings


def _python_settings() -> list[Setting]:
    return [
        Setting("os.getcwd()", os.getcwd, os.chdir),
        Setting("list(sys.path)", lambda: list(sys.path), _put_sys_path, label="sys.path"),
        Setting("list(warnings.filters)", lambda: list(warnings.filters), _put_warnings_filters,
                label="warnings.filters", show=_show_filter),
        Setting("warnings.showwarning", lambda: warnings.showwarning, partial(setattr, warnings, "showwarning")),
        Setting("logging.root.manager.disable", lambda: logging.root.manager.disable, logging.disable),
        *_logger_settings(),
        *_signal_settings(),
        *_environment_settings(),
    ]


def _numpy_settings() -> list[Setting]:
    return _entries("np.geterr()", np.geterr, np.seterr) + _entries("np.get_printoptions()", np.get_printoptions,
                                                                    np.set_printoptions)


def _entries(expr: str, read: Callable[[], dict], write: Callable[..., Any]) -> list[Setting]:
    """One setting per key of the dict ``read()`` returns (``expr`` reads it); ``write(key=value)`` sets one."""
    return [Setting(f"{expr}[{key!r}]", partial(_item, read, key), partial(_put_item, write, key))
            for key in read()]


def _item(read, key):
    return read()[key]


def _put_item(write, key, value) -> None:
    write(**{key: value})


def _logger_settings() -> list[Setting]:
    """Level, handlers, propagate and disabled of the root logger and of every logger that exists."""
    loggers = [("", logging.getLogger())] + sorted(
        (name, logger) for name, logger in logging.Logger.manager.loggerDict.items() if isinstance(logger, logging.Logger))
    settings = []
    for name, logger in loggers:
        cached = _LOGGER_SETTINGS.get(name)
        if cached is None or cached[0] is not logger:
            cached = _LOGGER_SETTINGS[name] = (logger, _settings_of_logger(name, logger))
        settings += cached[1]
    return settings


# The settings of each logger, made once: with torch imported there are hundreds of loggers, and
# a worker reads them all before and after every check.
_LOGGER_SETTINGS: dict[str, tuple[logging.Logger, list[Setting]]] = {}


def _settings_of_logger(name: str, logger: logging.Logger) -> list[Setting]:
    ref = f"logging.getLogger({name!r})" if name else "logging.getLogger()"
    return [
        Setting(f"{ref}.level", partial(getattr, logger, "level"), logger.setLevel),
        Setting(f"list({ref}.handlers)", partial(_copied, logger, "handlers"), partial(_put_handlers, logger),
                label=f"{ref}.handlers"),
        Setting(f"{ref}.propagate", partial(getattr, logger, "propagate"), partial(setattr, logger, "propagate")),
        Setting(f"{ref}.disabled", partial(getattr, logger, "disabled"), partial(setattr, logger, "disabled")),
    ]


def _copied(owner, attribute: str) -> list:
    return list(getattr(owner, attribute))


def _put_handlers(logger, handlers: list) -> None:
    logger.handlers[:] = handlers


def _signal_settings() -> list[Setting]:
    settings = []
    for number in sorted(signal.valid_signals()):
        ref = f"signal.{number.name}" if isinstance(number, signal.Signals) else str(int(number))
        settings.append(Setting(f"signal.getsignal({ref})", partial(signal.getsignal, number),
                                partial(_put_signal, number)))
    return settings


def _put_signal(number, handler) -> None:
    if handler is None:
        raise ValueError("the handler was not installed from Python")
    signal.signal(number, handler)


def _environment_settings() -> list[Setting]:
    return [Setting(f"os.environ.get({key!r})", partial(os.environ.get, key), partial(_put_environment, key),
                    label=f"os.environ[{key!r}]", absent=True) for key in os.environ]


def _put_environment(key: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(key, None)
    else:
        os.environ[key] = value


def _put_sys_path(entries: list) -> None:
    sys.path[:] = entries


def _put_warnings_filters(filters: list) -> None:
    warnings.resetwarnings()  # the public way to tell the warnings machinery its filters changed
    warnings.filters[:] = filters


# torch.backends flags read and set as attributes; those absent from this torch are left out.
# The fp32_precision ones are the newer API behind the TF32 flags: parents before children, so
# putting them back in this order leaves every one as captured.
TORCH_FLAGS = (
    "torch.backends.cuda.matmul.allow_tf32", "torch.backends.cudnn.allow_tf32", "torch.backends.cudnn.enabled",
    "torch.backends.cudnn.benchmark", "torch.backends.cudnn.deterministic",
    "torch.backends.fp32_precision", "torch.backends.cuda.matmul.fp32_precision",
    "torch.backends.cudnn.fp32_precision", "torch.backends.cudnn.conv.fp32_precision",
    "torch.backends.cudnn.rnn.fp32_precision", "torch.backends.mkldnn.fp32_precision",
    "torch.backends.mkldnn.matmul.fp32_precision", "torch.backends.mkldnn.conv.fp32_precision",
    "torch.backends.mkldnn.rnn.fp32_precision",
)
_DENORMAL = "torch.tensor(1e-40, dtype=torch.float32, device='cpu').item() == 0"


def _torch_settings(torch) -> list[Setting]:
    # Lambdas look the functions up at each call, so a patched torch.get_num_threads is seen.
    settings = [
        Setting("torch.get_num_threads()", lambda: torch.get_num_threads(), lambda n: torch.set_num_threads(n)),
        # Settable once per process, before any parallel work: compared, never put back.
        Setting("torch.get_num_interop_threads()", lambda: torch.get_num_interop_threads()),
        Setting("torch.get_default_dtype()", lambda: torch.get_default_dtype(), lambda d: torch.set_default_dtype(d)),
        Setting("torch.get_default_device()", partial(_default_device, torch), partial(_put_default_device, torch)),
        Setting("torch.is_grad_enabled()", lambda: torch.is_grad_enabled(), lambda on: torch.set_grad_enabled(on)),
        Setting("torch.are_deterministic_algorithms_enabled()", lambda: torch.are_deterministic_algorithms_enabled(),
                lambda on: torch.use_deterministic_algorithms(
                    on, warn_only=torch.is_deterministic_algorithms_warn_only_enabled())),
        Setting("torch.is_deterministic_algorithms_warn_only_enabled()",
                lambda: torch.is_deterministic_algorithms_warn_only_enabled(),
                lambda on: torch.use_deterministic_algorithms(torch.are_deterministic_algorithms_enabled(), warn_only=on)),
        Setting("torch.is_anomaly_enabled()", lambda: torch.is_anomaly_enabled(),
                lambda on: torch.set_anomaly_enabled(on, torch.is_anomaly_check_nan_enabled())),
        Setting("torch.is_anomaly_check_nan_enabled()", lambda: torch.is_anomaly_check_nan_enabled(),
                lambda on: torch.set_anomaly_enabled(torch.is_anomaly_enabled(), on)),
        # No getter exists: with flush-denormal on, a float32 denormal reads back as zero.
        Setting(_DENORMAL, lambda: torch.tensor(1e-40, dtype=torch.float32, device="cpu").item() == 0,
                lambda on: torch.set_flush_denormal(on), label=f"flush-denormal mode ({_DENORMAL})"),
        Setting("torch.get_float32_matmul_precision()", lambda: torch.get_float32_matmul_precision(),
                lambda p: torch.set_float32_matmul_precision(p)),
        Setting("torch.is_warn_always_enabled()", lambda: torch.is_warn_always_enabled(),
                lambda on: torch.set_warn_always(on)),
    ]
    return settings + [_attribute(torch, path) for path in TORCH_FLAGS if _has_path(torch, path)]


def _attribute(root, path: str) -> Setting:
    owner, _, leaf = path.partition(".")[2].rpartition(".")
    return Setting(path, partial(_get_path, root, owner, leaf), partial(_set_path, root, owner, leaf))


def _resolve(root, dotted: str):
    for part in filter(None, dotted.split(".")):
        root = getattr(root, part)
    return root


def _get_path(root, owner: str, leaf: str):
    return getattr(_resolve(root, owner), leaf)


def _set_path(root, owner: str, leaf: str, value) -> None:
    setattr(_resolve(root, owner), leaf, value)


def _has_path(root, path: str) -> bool:
    try:
        _resolve(root, path.partition(".")[2])
    except Exception:  # noqa: BLE001 - absent from this torch, or unreadable: either way not in the table
        return False
    return True


def _default_device(torch):
    """``torch.get_default_device()``, without resolving an index-less CUDA device.

    Resolving ``"cuda"`` to ``cuda:N`` creates a tensor there (initialising CUDA, or raising
    where there is none), so that one is read as set.
    """
    context = getattr(getattr(torch, "_GLOBAL_DEVICE_CONTEXT", None), "device_context", None)
    device = getattr(context, "device", None)
    if device is not None and device.index is None and device.type not in ("cpu", "meta"):
        return device
    return torch.get_default_device()


def _put_default_device(torch, device) -> None:
    # None removes the device context entirely: the state of a process that never set one.
    torch.set_default_device(None if device == torch.device("cpu") else device)


# --- RNGs, threads and child processes -----------------------------------------------------------

def _rng_states() -> dict:
    rng = {"numpy.random (legacy global)": np.random.get_state(), "random": random.getstate()}
    torch = sys.modules.get("torch")
    if torch is not None:
        rng["torch (CPU)"] = torch.random.get_rng_state()
        if torch.cuda.is_initialized():
            rng["torch (CUDA)"] = torch.cuda.get_rng_state_all()
    return rng


def _restore_rngs(rng: dict) -> None:
    np.random.set_state(rng["numpy.random (legacy global)"])
    random.setstate(rng["random"])
    torch = sys.modules.get("torch")
    if torch is not None and "torch (CPU)" in rng:
        torch.random.set_rng_state(rng["torch (CPU)"])
        if "torch (CUDA)" in rng:
            torch.cuda.set_rng_state_all(rng["torch (CUDA)"])


def running_threads() -> frozenset:
    """The live threads of this process started from Python, less the suite's own.

    Threads started outside Python that once called into it (torch's worker threads running a
    hook) show as dummy threads that cannot be joined and never end: not the estimator's to join.
    """
    dummy = getattr(threading, "_DummyThread", ())
    return frozenset(thread for thread in threading.enumerate()
                     if thread.is_alive() and not isinstance(thread, dummy)
                     and not thread.name.startswith(SUITE_THREAD_PREFIX))


def child_processes() -> dict[int, str]:
    """``{pid: command name}`` of this process's running children (not zombies), less the suite's own."""
    if not os.path.isdir("/proc"):
        children = {child.pid: child.name for child in multiprocessing.active_children()}
    else:
        children = proc_children(os.getpid())
    for pid in _suite_pids():
        children.pop(pid, None)
    return children


def _suite_pids() -> set[int]:
    """The fresh-process server (conformance.fresh) and the run guard, where this process started them."""
    server = getattr(sys.modules.get("conformance.fresh"), "_server", None)
    pids = {server.pid} if server is not None else set()
    guard = guard_pid()
    return pids | ({guard} if guard is not None else set())


def _same_state(a, b) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, (tuple, list)):
        return len(a) == len(b) and all(_same_state(x, y) for x, y in zip(a, b))
    if isinstance(a, np.ndarray):
        return np.array_equal(a, b)
    if hasattr(a, "equal") and hasattr(a, "shape"):  # a torch tensor
        return a.shape == b.shape and bool(a.equal(b))
    return a == b
