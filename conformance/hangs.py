"""A hang costs one timeout: budgets that adapt to the estimator, and calls known to hang.

Two things the run learns about each target, kept on its :class:`History`:

- how long the shared fit took. Each check's time limit is derived from it
  (:func:`check_budget`): ``BUDGET_FACTOR`` times the shared fit, never under the floor, never
  over ``--conformance-timeout`` (the user's hard cap);
- which estimator call hung. When a check times out, its process is asked where it is
  (:func:`locate_call`, run in the child by :mod:`conformance.processes`): the outermost call
  of one of the estimator's methods, and the shape of its input. Later checks that make the same
  call (the same method on input of the same shape) fail at once, citing the first timeout
  (:func:`refusing_known_hangs`), instead of costing a timeout each; and since the estimator is
  now known to hang, the floors drop (``HUNG_FLOOR_S``), so a hang on other data costs less.
"""

from __future__ import annotations

import functools
import inspect
from contextlib import contextmanager
from dataclasses import dataclass, field

# The methods a check calls on an estimator: the calls a hang is recorded for.
METHODS = ("fit", "partial_fit", "fit_transform", "fit_predict", "predict", "predict_proba",
           "predict_log_proba", "decision_function", "transform", "inverse_transform", "score",
           "score_samples")
BUDGET_FACTOR = 200  # a check may take this many shared fits (sklearn's checks fit dozens of times)
EXAMPLES_PER_FACTOR = 25  # the standard profile's hypothesis examples: larger profiles scale the factor
FLOOR_S = 60.0  # no check gets less, however fast the shared fit
SLOW_FLOOR_S = 120.0  # checks that start interpreters or use every thread: seconds before they begin
# Once a call of the estimator has hung, the floors drop: each further hang costs this much.
HUNG_FLOOR_S = 15.0
HUNG_SLOW_FLOOR_S = 30.0


@dataclass(frozen=True)
class Call:
    """One call of an estimator's method: its name and the shape of its first data argument."""

    method: str
    shape: tuple | None

    def describe(self) -> str:
        if not self.shape:
            return f"{self.method} (on input of unknown shape)"
        return f"{self.method} on input of shape ({', '.join(str(n) for n in self.shape)})"

    def covers(self, other: "Call") -> bool:
        """Whether ``other`` is expected to hang too: the same method on input of the same shape.

        Not "at least as many rows": an estimator that loops forever on one row (a batch size
        of ``n // 10``) fits larger data fine, and refusing those fits would fail good checks.
        """
        return self.shape is not None and self == other


@dataclass(frozen=True)
class Hang:
    """The first timeout of a call: which call, in which check, after how many seconds."""

    call: Call
    check: str
    seconds: float

    def describe(self) -> str:
        return f"{self.call.describe()} timed out after {self.seconds:g} s in {self.check}"


@dataclass
class History:
    """What the run has learned about one target: its shared fit's duration, the calls that hung."""

    shared_fit_s: dict = field(default_factory=dict)  # budget -> seconds; None: the shared fit hung
    hangs: list = field(default_factory=list)

    def record_hang(self, hang: Hang) -> None:
        if not any(known.call.covers(hang.call) for known in self.hangs):
            self.hangs.append(hang)

    def hang_covering(self, call: Call) -> Hang | None:
        return next((hang for hang in self.hangs if hang.call.covers(call)), None)


class KnownHang(BaseException):
    """Raised instead of making a call that already hung (BaseException: checks must not swallow it)."""

    def __init__(self, call: Call, hang: Hang):
        super().__init__(call, hang)
        self.call = call
        self.hang = hang

    def __str__(self) -> str:
        return (f"not run: {self.hang.describe()} earlier in this run, and this check makes the same call; "
                "it was failed at once rather than spending another timeout on it (if the call only needs "
                "longer, raise --conformance-timeout)")


@dataclass(frozen=True)
class Budget:
    """One check's time limit and how it was derived, for the timeout's message."""

    seconds: float
    why: str


def check_budget(history: History, settings, entry) -> Budget:
    """The time limit of ``entry`` on a target with ``history``: see the module's docstring."""
    cap = settings.timeout_s
    slow = entry.fresh_process or entry.threads
    if history.hangs:
        floor = HUNG_SLOW_FLOOR_S if slow else HUNG_FLOOR_S
    else:
        floor = SLOW_FLOOR_S if slow else FLOOR_S
    if settings.budget not in history.shared_fit_s:  # not timed (its fit raised): nothing to go on
        return Budget(cap, f"--conformance-timeout {cap:g} s (the shared fit was not timed)")
    fit_s = history.shared_fit_s[settings.budget]
    if fit_s is None:  # the shared fit hung: the estimator is known to hang, the floor
        derived, base = floor, f"the floor, {floor:g} s, since the shared fit timed out"
    else:
        factor = BUDGET_FACTOR * max(1.0, settings.budget.max_examples / EXAMPLES_PER_FACTOR)
        derived = max(floor, factor * fit_s)
        base = f"{factor:g} x the shared fit's {fit_s:.2g} s, at least {floor:g} s"
    if history.hangs:
        base += f", lowered since {history.hangs[0].describe()}"
    if derived >= cap:
        return Budget(cap, f"--conformance-timeout {cap:g} s")
    return Budget(derived, f"{base}; at most --conformance-timeout {cap:g} s")


def call_of(method: str, args: tuple, kwargs: dict) -> Call:
    """The :class:`Call` a method receiving ``args`` and ``kwargs`` (self excluded) makes."""
    data = args[0] if args else kwargs.get("X", next(iter(kwargs.values()), None))
    return Call(method, shape_of(data))


def shape_of(data) -> tuple | None:
    """The shape of an array, frame or sparse matrix; of a nested list as numpy sees it; else its length."""
    shape = getattr(data, "shape", None)
    if shape is None and isinstance(data, (list, tuple)):
        import numpy as np

        try:
            shape = np.shape(data)
        except ValueError:  # ragged rows
            shape = None
    if shape is not None:
        try:
            return tuple(int(n) for n in shape)
        except (TypeError, ValueError):
            return None
    try:
        return (len(data),)
    except TypeError:
        return None


def locate_call(estimator_type: type):
    """A function of a frame giving the outermost call of a method of ``estimator_type`` on its stack."""

    def locate(frame) -> Call | None:
        found = None
        while frame is not None:
            name = frame.f_code.co_name
            if name in METHODS and isinstance(frame.f_locals.get("self"), estimator_type):
                found = _frame_call(frame)
            frame = frame.f_back
        return found

    return locate


def _frame_call(frame) -> Call:
    code = frame.f_code
    if code.co_argcount < 2:  # def fit(self, *args)
        extra = frame.f_locals.get(code.co_varnames[code.co_argcount]) if code.co_flags & inspect.CO_VARARGS else ()
        return Call(code.co_name, shape_of(extra[0]) if extra else None)
    return Call(code.co_name, shape_of(frame.f_locals.get(code.co_varnames[1])))


@contextmanager
def refusing_known_hangs(estimator_type: type, history: History):
    """While inside, calls of ``estimator_type``'s methods that ``history`` knows hang raise :class:`KnownHang`.

    Only the methods that hung are replaced, on the class, and put back on the way out.
    """
    replaced = []
    for method in sorted({hang.call.method for hang in history.hangs}):
        original = inspect.getattr_static(estimator_type, method, None)
        if not inspect.isfunction(original):
            continue  # a descriptor (sklearn's available_if): left alone, the budget still bounds it
        replaced.append((method, estimator_type.__dict__.get(method)))
        setattr(estimator_type, method, _refusing(original, method, history))
    try:
        yield
    finally:
        for method, own in reversed(replaced):
            if own is None:
                delattr(estimator_type, method)
            else:
                setattr(estimator_type, method, own)


def _refusing(original, method: str, history: History):
    @functools.wraps(original)
    def call(self, *args, **kwargs):
        this = call_of(method, args, kwargs)
        hang = history.hang_covering(this)
        if hang is not None:
            raise KnownHang(this, hang)
        return original(self, *args, **kwargs)

    return call
