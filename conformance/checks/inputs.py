"""inputs checks (see docs/checks/inputs.md): the inputs users pass, drawn by hypothesis.

sklearn's own checks use a handful of fixed arrays; torch wrappers break on the dtypes,
layouts, containers and shapes users actually pass. These checks draw inputs from
:mod:`conformance.strategies` and hold the estimator to one rule each. A failure reports the
minimal input hypothesis shrank to as a copy-paste script, with the seed that found it.
"""

from __future__ import annotations

import contextlib
import copy
import sys
import warnings
from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st

from conformance import strategies as cs
from conformance.checks._support.outputs import Recipe, dense, output_methods
from conformance.checks._support.refusals import first_line, is_clear_refusal, leaked_error, unwritable_warnings
from conformance.checks._support.seeding import seed_params
from conformance.checks._support.search import Violation, search
from conformance.data import LONG_DOCUMENT_WORDS, class_values
from conformance.checks._support.tags import (
    input_tag,
    multi_class,
    multi_output,
    needs_y,
    preserved_dtypes,
    requires_fit,
    single_output,
)
from conformance.registry import register
from conformance.repro import params_text
from conformance.tolerance import assertion_line, effective_dtype, mismatch
from conformance.torch_state import compute_dtype

SUPERVISED = ("classifier", "regressor", "transformer")


# --------------------------------------------------------------------------------------------
# Plumbing: sizes, tags, scripts and the hypothesis runner.

@dataclass(frozen=True)
class Limits:
    """Row and column ranges for the profile: fit needs enough rows, predict varies from 1."""

    fit_rows: tuple
    predict_rows: tuple
    widths: tuple  # a single width when the estimator declares ``input_width``


def limits(ctx) -> Limits:
    n = ctx.budget.n_samples
    width = ctx.traits.input_width
    widths = (width, width) if width is not None else (1, max(4, min(12, n // 12)))
    return Limits((20, max(20, n // 2)), (1, max(8, n // 4)), widths)


def inference_methods(estimator) -> list[str]:
    return output_methods(estimator)


# --------------------------------------------------------------------------------------------
# Data the estimator can fit, and the code lines that rebuild it.

def fit_y(ctx, n_samples: int, draw, classes=None):
    """A target for fitting ``n_samples`` rows (None for an unsupervised transformer)."""
    if not needs_y(ctx.traits):
        return None
    if ctx.traits.is_classifier or ctx.traits.is_transformer:  # supervised transformers select on labels
        if classes is None:  # the ordinary data's labels: not 0..k-1 (docs/writing-checks.md, "Coincidences")
            classes = class_values(3 if multi_class(ctx.traits) else 2)
        return draw(cs.classification_targets(n_samples=n_samples, classes=classes))
    n_outputs = 2 if not single_output(ctx.traits) else 1
    return draw(cs.regression_targets(n_samples=n_samples, n_outputs=n_outputs))


def fit_call(y) -> str:
    return "estimator.fit(X, y)" if y is not None else "estimator.fit(X)"


def y_code(y) -> list[str]:
    return [] if y is None else [f"y = {cs.array_literal(y)}"]


def ordinary_fit_code(ctx) -> list[str]:
    """Lines refitting the estimator on the suite's ordinary data, as ``ctx.fitted()`` did."""
    return ["from conformance.data import dataset_for",
            f"estimator.fit(*dataset_for(estimator, {ctx.budget.n_samples}).fit_args())"]


def fitted_width(ctx, estimator) -> int:
    return int(getattr(estimator, "n_features_in_", ctx.traits.n_features))


def is_text(ctx) -> bool:
    return ctx.traits.input_kind == "text"


def text_inputs(n_rows, containers, varied: bool = False):
    """Documents for a text estimator; ``varied`` adds documents longer than a typical ``max_length``."""
    return cs.text_inputs(n_rows=n_rows, containers_=containers, long_words=LONG_DOCUMENT_WORDS if varied else 0)


def predict_matrices(ctx, n_features: int, min_rows: int = 1, dtypes=("float64", "float32")):
    """Prediction-time inputs: float matrices of the fitted width in the training data's range,
    or documents (in an object array) for a text estimator."""
    lo, hi = limits(ctx).predict_rows
    if is_text(ctx):
        return text_inputs((max(lo, min_rows), max(hi, min_rows)), ("object_array",), varied=True)
    return cs.feature_inputs(n_rows=(max(lo, min_rows), max(hi, min_rows)), n_features=n_features,
                             dtypes=dtypes, layouts_=("C",), containers_=("ndarray",),
                             positive=input_tag(ctx.traits, "positive_only"))


# --------------------------------------------------------------------------------------------
# Comparing outputs.

def precision_dtype(estimator, output) -> np.dtype:
    """The dtype that sets the tolerance: the output's, or the torch tensors' when coarser.

    A torch model computing in float32 and returning float64 carries float32 noise; holding
    it to float64 epsilon would fail a correct model for 1-ulp BLAS differences.
    """
    return effective_dtype(np.asarray(output).dtype, compute_dtype(estimator))


def compare(ctx, estimator, method: str, observed, expected, kind: str, what: str, reference=None,
            script=None, names=None):
    """Raise :class:`Violation` unless ``observed`` matches ``expected`` within ``kind``.

    Labels must match exactly, except where the reference probabilities tie within the
    tolerance (the label may then legitimately flip). ``names`` (observed and expected as
    Python expressions) add the same comparison to ``script`` as an executable assertion.
    """
    observed, expected = np.asarray(observed), np.asarray(expected)
    tolerance = ctx.tolerance(kind, precision_dtype(estimator, expected))
    if script is not None and names is not None:
        script.add(assertion_line(*names, expected, tolerance))
    problem = mismatch(observed, expected, tolerance)
    if problem is None:
        return
    if method == "predict" and reference is not None and observed.shape == expected.shape and kind != "bitwise":
        scores = np.asarray(reference)
        if scores.ndim == 2 and scores.shape[1] >= 2:
            top = np.sort(scores, axis=1)[:, -2:]
            tie = (top[:, 1] - top[:, 0]) <= 2 * (tolerance.atol + tolerance.rtol * np.abs(top[:, 1]))
            differ = observed != expected if observed.ndim == 1 else np.any(observed != expected, axis=1)
            if not np.any(differ & ~tie):
                return
    raise Violation(f"{what}: {problem}", observed=_preview(observed), expected=_preview(expected))


def _preview(values, limit: int = 6) -> str:
    values = np.asarray(values)
    flat = values.reshape(-1)[:limit].tolist()
    more = ", ..." if values.size > limit else ""
    return f"{values.dtype} {values.shape} {flat}{more}"


def call_all(estimator, X, methods, script, name: str = "X", suffix: str = "") -> dict:
    """Each method's output on ``X``, checked to have one row per input row."""
    outputs = {}
    for method in methods:
        script.add(f"{method}{suffix} = dense(estimator.{method}({name}))")
        out = dense(getattr(estimator, method)(X))
        if out.ndim == 0 or out.shape[0] != len(X):
            script.add(f"assert len({method}{suffix}) == {len(X)}")
            raise Violation(f"{method} returned {'a scalar' if out.ndim == 0 else f'{out.shape[0]} rows'} "
                            f"for {len(X)} input rows", observed=f"shape {out.shape}",
                            expected=f"{len(X)} rows")
        outputs[method] = out
    return outputs


# --------------------------------------------------------------------------------------------
# Valid input: accepted, and answered in the documented form.

@register("inputs.valid_dtypes_and_layouts", applies_to=SUPERVISED)
def valid_dtypes_and_layouts(ctx):
    """fit and every inference method accept every valid input of their kind (any numeric dtype, memory layout and container, or for text any sequence of documents), without torch's errors or warnings about it.

    Users pass float32 and int64 arrays, Fortran-ordered, sliced and reversed views, read-only
    arrays and memmaps, arrays in non-native byte order, nested lists and tuples and pandas
    DataFrames (nullable dtypes included); a wrapper that feeds them straight to torch raises
    "expected scalar type Float but found Double", "At least one stride in the given numpy array
    is negative" or "expected np.ndarray (got list)", or warns "The given NumPy array is not
    writable", instead of converting as every sklearn estimator does. A float32 array often
    reaches torch as a view where a float64 one is copied, so every layout and container is
    tried in both. Text arrives as lists, tuples, numpy ``str`` and object arrays and pandas
    ``Series`` (of objects or ``StringDtype``), with empty, non-ASCII and very long documents.
    """
    lim = limits(ctx)
    positive = input_tag(ctx.traits, "positive_only")

    @st.composite
    def cases(draw):
        width = draw(st.integers(*lim.widths))
        if is_text(ctx):
            X = draw(text_inputs(lim.fit_rows, cs.available_text_containers(), varied=True))
            y = fit_y(ctx, X.shape[0], draw)
            return X, y, draw(text_inputs(lim.predict_rows, cs.available_text_containers(), varied=True))
        X = draw(cs.feature_inputs(n_rows=lim.fit_rows, n_features=width, magnitudes_=("unit", "tiny", "large"),
                                   positive=positive))
        y = fit_y(ctx, X.shape[0], draw)
        X_test = draw(cs.feature_inputs(n_rows=lim.predict_rows, n_features=width, positive=positive))
        return X, y, X_test

    def prop(case, script):
        X, y, X_test = case
        estimator = ctx.new()
        script.add(f"# fit on a {X.describe()}", *X.code("X"), *y_code(y), fit_call(y))
        _without_unwritable_warning(script, fit_call(y), lambda: ctx.fit_arrays(estimator, X.build(), y))
        script.add(f"# then call on a {X_test.describe()}", *X_test.code("X_test"))
        for method in inference_methods(estimator):
            _without_unwritable_warning(script, f"estimator.{method}(X_test)",
                                        lambda method=method: call_all(estimator, X_test.build(), [method], script,
                                                                       "X_test"))

    sweep = [] if is_text(ctx) else layout_sweep(ctx)
    with _torch_warns_always():  # the sweep counts towards the profile's budget of examples
        search(ctx, cases(), prop, examples=sweep, max_examples=max(ctx.budget.max_examples - len(sweep),
                                                                    ctx.budget.max_examples // 3))


def layout_sweep(ctx) -> list:
    """One case per layout and container, in float32 and in float64: fit and predict get the same kind.

    The ``quick`` profile fits each kind in one of the two dtypes (alternating) and still
    predicts on both; the others fit every kind in both dtypes.
    """
    lim = limits(ctx)
    data, test = ctx.data(n_samples=lim.fit_rows[0]), ctx.data(n_samples=lim.predict_rows[1], seed=1)
    positive = input_tag(ctx.traits, "positive_only")
    kinds = [(layout, "ndarray") for layout in cs.LAYOUTS] + [("C", c) for c in cs.available_containers()
                                                               if c != "ndarray"]
    y = data.y if needs_y(ctx.traits) else None
    cases = []
    for i, (layout, container) in enumerate(kinds):
        for j, dtype in enumerate((np.float32, np.float64)):
            if ctx.settings.profile == "quick" and (i + j) % 2:
                continue
            X, X_test = (np.abs(a) if positive else a for a in (data.X, test.X))
            cases.append((cs.FeatureInput(X.astype(dtype), layout, container), y,
                          cs.FeatureInput(X_test.astype(dtype), layout, container)))
    # One row with a negative stride: numpy calls it C-contiguous (an axis of length 1 does not
    # count), torch.from_numpy refuses it, so a fast path that trusts the flags crashes on it.
    for j, dtype in enumerate((np.float32, np.float64)):
        if ctx.settings.profile == "quick" and j == 0:
            continue
        X, X_test = (np.abs(a) if positive else a for a in (data.X, test.X[:1]))
        cases.append((cs.FeatureInput(X.astype(dtype), "C", "ndarray"), y,
                      cs.FeatureInput(X_test.astype(dtype), "reversed_rows", "ndarray")))
    return cases


def _without_unwritable_warning(script, code: str, call):
    """Run ``call`` (the Python ``code``, already in ``script``), failing when it warns that an array is not writable.

    torch warns about it once per process: the reproduction asks it to warn every time
    (``torch.set_warn_always``), as the check does, and makes the call again.
    """
    with warnings.catch_warnings(record=True) as records:
        warnings.simplefilter("always")
        result = call()
    found = unwritable_warnings(records)
    if found:
        script.add("import torch, warnings", "torch.set_warn_always(True)",
                   "with warnings.catch_warnings(record=True) as caught:",
                   "    warnings.simplefilter('always')", f"    {code}",
                   "assert not [str(w.message) for w in caught if 'writable' in str(w.message)], "
                   "[str(w.message) for w in caught]")
        raise Violation(f"{code.split('(')[0].split('.')[-1]} warned that the array is not writable: "
                        f"{found[0][:160]!r} (torch.from_numpy/as_tensor on a read-only array; copy it, "
                        "e.g. torch.tensor(X), or validate with sklearn's validate_data first)",
                        observed=found[0][:200], expected="no warning: read-only arrays are valid input")
    return result


@contextlib.contextmanager
def _torch_warns_always():
    """torch warns once per process about read-only arrays; make it warn every time, so each example is judged alike."""
    torch = sys.modules.get("torch")
    if torch is None or not hasattr(torch, "set_warn_always"):
        yield
        return
    before = torch.is_warn_always_enabled()
    torch.set_warn_always(True)
    try:
        yield
    finally:
        torch.set_warn_always(before)


class Problem(str):
    """What is wrong with an output (the text), and a line of Python asserting it about ``out``."""

    def __new__(cls, text: str, assertion: str):
        problem = super().__new__(cls, text)
        problem.assertion = assertion
        return problem


def contract_problems(ctx, estimator, method: str, out, n_rows: int, y=None, X_dtype=None) -> list[Problem]:
    """What is wrong with ``out`` as the answer of ``method`` for ``n_rows`` rows."""
    torch = sys.modules.get("torch")
    is_array = "assert isinstance(out, np.ndarray) and not isinstance(out, np.matrix), type(out)"
    if torch is not None and isinstance(out, torch.Tensor):
        return [Problem(f"{method} returned a torch.Tensor on {out.device}; return a numpy array "
                        "(tensor.detach().cpu().numpy())", is_array)]
    sparse = method == "transform" and hasattr(out, "tocsr")
    if not sparse and (not isinstance(out, np.ndarray) or isinstance(out, np.matrix)):
        return [Problem(f"{method} returned {type(out).__module__}.{type(out).__name__}, not a numpy ndarray", is_array)]
    values = out.data if sparse else out
    problems = []
    if values.dtype.kind in "fc" and not np.all(np.isfinite(values)):
        problems.append(Problem(f"{method} returned non-finite values "
                                f"({np.count_nonzero(~np.isfinite(values))} of {values.size})",
                                f"assert np.isfinite({'out.data' if sparse else 'out'}).all(), 'non-finite values'"))
    if method == "predict":
        problems += _predict_problems(ctx, estimator, out, n_rows, y)
    elif method == "predict_proba":
        problems += _proba_problems(ctx, estimator, out, n_rows) if not problems else []
    elif method == "transform":
        problems += _transform_problems(ctx, out, n_rows, X_dtype)
    elif out.ndim not in (1, 2) or out.shape[0] != n_rows:
        problems.append(Problem(f"{method} returned shape {out.shape} for {n_rows} row(s)",
                                f"assert out.ndim in (1, 2) and out.shape[0] == {n_rows}, out.shape"))
    return problems


def _predict_problems(ctx, estimator, out, n_rows, y) -> list[Problem]:
    problems = []
    expected_shape = (n_rows,) if y is None or np.ndim(y) == 1 else (n_rows, *np.shape(y)[1:])
    if out.shape != expected_shape:
        problems.append(Problem(f"predict returned shape {out.shape} for {n_rows} row(s); expected {expected_shape}",
                                f"assert out.shape == {expected_shape}, out.shape"))
    if not ctx.traits.is_classifier:
        if out.dtype.kind != "f":
            problems.append(Problem(f"predict returned dtype {out.dtype}; a regressor returns floats",
                                    "assert out.dtype.kind == 'f', out.dtype"))
        return problems
    classes = np.asarray(estimator.classes_)
    if out.dtype != classes.dtype:
        problems.append(Problem(f"predict returned dtype {out.dtype}; expected classes_'s dtype {classes.dtype}",
                                "assert out.dtype == np.asarray(estimator.classes_).dtype, out.dtype"))
    unknown = np.setdiff1d(np.asarray(out, dtype=classes.dtype).ravel(), classes) if out.size else []
    if len(unknown):
        problems.append(Problem(f"predict returned values not in classes_ {classes.tolist()}: {list(unknown)[:5]}",
                                "assert np.isin(np.asarray(out, dtype=np.asarray(estimator.classes_).dtype), "
                                "estimator.classes_).all(), 'labels not in classes_'"))
    return problems


def _proba_problems(ctx, estimator, out, n_rows) -> list[Problem]:
    k = len(estimator.classes_)
    if out.shape != (n_rows, k):
        return [Problem(f"predict_proba returned shape {out.shape}; expected (n_rows, n_classes) = {(n_rows, k)}",
                        f"assert out.shape == {(n_rows, k)}, out.shape")]
    if out.dtype.kind != "f":
        return [Problem(f"predict_proba returned dtype {out.dtype}; expected floats",
                        "assert out.dtype.kind == 'f', out.dtype")]
    tolerance = ctx.tolerance("batch", precision_dtype(estimator, out))
    sums = out.sum(axis=1)
    if (mismatch(sums, np.ones(n_rows, dtype=out.dtype), tolerance) is None
            and out.min(initial=0) >= -tolerance.atol and out.max(initial=1) <= 1 + tolerance.atol):
        return []
    return [Problem(f"predict_proba rows must be probabilities summing to 1: row sums "
                    f"{np.round(sums[:5], 6).tolist()}, min {out.min():.3g}, max {out.max():.3g}",
                    f"assert {-tolerance.atol!r} <= out.min() and out.max() <= {1 + tolerance.atol!r}, (out.min(), out.max())\n"
                    + assertion_line("out.sum(axis=1)", "np.ones(len(out))", np.ones(n_rows), tolerance))]


def _transform_problems(ctx, out, n_rows, X_dtype) -> list[Problem]:
    problems = []
    if out.ndim != 2 or out.shape[0] != n_rows:
        problems.append(Problem(f"transform returned shape {out.shape} for {n_rows} row(s); expected (n_rows, n_outputs)",
                                f"assert out.ndim == 2 and out.shape[0] == {n_rows}, out.shape"))
    expected = _transform_dtype(ctx, X_dtype)
    if expected is not None and out.dtype != expected:
        problems.append(Problem(f"transform returned {out.dtype} for {np.dtype(X_dtype).name} input; the "
                                f"transformer's tags (preserves_dtype={preserved_dtypes(ctx.traits)}) promise {expected}",
                                f"assert out.dtype == np.{expected.name}, out.dtype"))
    elif out.dtype.kind not in "fiub":
        problems.append(Problem(f"transform returned dtype {out.dtype}; expected a numeric dtype",
                                "assert out.dtype.kind in 'fiub', out.dtype"))
    return problems


def _transform_dtype(ctx, X_dtype):
    if X_dtype is None:
        return None
    name = np.dtype(X_dtype).name
    return np.dtype(name) if name in preserved_dtypes(ctx.traits) else None


@register("inputs.output_contract", applies_to=SUPERVISED)
def output_contract(ctx):
    """Outputs are CPU numpy arrays of the documented shape and dtype, finite, for any labels.

    ``predict`` returns shape ``(n,)`` (even for one row) with ``classes_``'s dtype and values,
    ``predict_proba`` ``(n, n_classes)`` rows summing to 1, ``transform`` a fixed width in the
    dtype the tags promise. Pipelines index, compare and concatenate these; a tensor, an
    ``(n, 1)`` column, a scalar for one row or a label index in place of the label breaks them.
    """
    lim = limits(ctx)
    positive = input_tag(ctx.traits, "positive_only")
    n_classes = (2, 5) if multi_class(ctx.traits) else (2, 2)
    float_dtypes = ("float64", "float32")

    @st.composite
    def cases(draw):
        width = draw(st.integers(*lim.widths))
        dtype = draw(st.sampled_from(float_dtypes)) if ctx.traits.is_transformer else "float64"
        if is_text(ctx):
            X = draw(text_inputs(lim.fit_rows, ("object_array",)))
        else:
            X = draw(cs.feature_inputs(n_rows=lim.fit_rows, n_features=width, dtypes=(dtype,), layouts_=("C",),
                                       containers_=("ndarray",), positive=positive))
        classes = draw(cs.class_labels(n_classes=n_classes)) if ctx.traits.is_classifier else None
        y = fit_y(ctx, X.shape[0], draw, classes)
        if ctx.traits.is_regressor and multi_output(ctx.traits) and y.ndim == 1 and draw(st.booleans()):
            y = np.column_stack([y, draw(cs.regression_targets(n_samples=X.shape[0]))])
        if is_text(ctx):
            X_test = draw(text_inputs(lim.predict_rows, ("object_array",), varied=True))
        else:
            X_test = draw(cs.feature_inputs(n_rows=lim.predict_rows, n_features=width, dtypes=(dtype,),
                                            layouts_=("C",), containers_=("ndarray",), positive=positive))
        return X, y, X_test

    def prop(case, script):
        X, y, X_test = case
        estimator = ctx.new()
        script.add(*X.code("X"), *y_code(y), fit_call(y))
        ctx.fit_arrays(estimator, X.build(), y)
        script.add(*X_test.code("X_test"))
        for rows, name in ((X_test.array, "X_test"), (X_test.array[:1], "X_test[:1]")):
            for method in inference_methods(estimator):
                script.add(f"out = estimator.{method}({name})")
                out = getattr(estimator, method)(rows.copy())
                problems = contract_problems(ctx, estimator, method, out, len(rows), y, X_test.dtype)
                if problems:
                    script.add(*problems[0].assertion.splitlines())
                    raise Violation("; ".join(problems), observed=_describe_output(out),
                                    expected=f"a numpy array answering {method} for {len(rows)} row(s)")
        if ctx.traits.is_transformer:
            widths = {np.shape(estimator.transform(X_test.array[:n]))[1] for n in (1, len(X_test.array))}
            if len(widths) > 1:
                script.add("assert np.shape(estimator.transform(X_test[:1]))[1] == np.shape(estimator.transform(X_test))[1]")
                raise Violation(f"transform's output width depends on the number of rows: {sorted(widths)}")

    search(ctx, cases(), prop)


def _describe_output(out) -> str:
    shape = getattr(out, "shape", None)
    return f"{type(out).__module__}.{type(out).__name__}, shape {shape}, dtype {getattr(out, 'dtype', None)}"


# --------------------------------------------------------------------------------------------
# Precision: float64 input is not silently truncated.

PRECISION_OFFSET = 1e8
PRECISION_MARGIN = 0.1


@register("inputs.float64_precision", applies_to=("classifier", "regressor"), input_kinds=("tabular",))
def float64_precision(ctx):
    """A model fit on float64 features 1e8 + x scores within 0.1 of the same model fit on x.

    float32 holds about 7 significant digits: cast 1e8 + U(0, 1) to float32 and every value
    becomes one of a few multiples of 8, so the features carry nothing. A torch wrapper that
    casts before centring and scaling in float64 silently learns nothing from such data (time
    stamps, coordinates, prices with a large offset), while every float64 estimator is fine.
    """
    if not ctx.traits.torch:
        ctx.skip("applies to torch-backed estimators only: the rule is about casting float64 input to a "
                 "float32 module, and some estimators legitimately compute in float32 or leave input "
                 "scaling to the user (sklearn's trees and MLPs), which a 1e8 offset would fail")
    n = max(ctx.budget.n_samples, 80)
    data = ctx.data(n_samples=n)
    split = (3 * n) // 4
    X, y = data.X, data.y
    scores = {}
    for name, offset in (("centred", 0.0), ("offset", PRECISION_OFFSET)):
        estimator = ctx.new()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ctx.fit_arrays(estimator, X[:split] + offset, y[:split])
            scores[name] = float(estimator.score(X[split:] + offset, y[split:]))
    if scores["centred"] < 0.5:
        ctx.skip(f"scores {scores['centred']:.3f} on the ordinary centred data (below 0.5), too little "
                 "for a comparison with the offset data to mean anything")
    if scores["offset"] < scores["centred"] - PRECISION_MARGIN:
        ctx.fail(f"fit on 1e8 + X scores {scores['offset']:.3f}, on X {scores['centred']:.3f}: float64 "
                 "precision is lost (a cast to float32 before centring?)",
                 observed=f"score {scores['offset']:.3f} with the offset",
                 expected=f"at least {scores['centred'] - PRECISION_MARGIN:.3f} (centred score - {PRECISION_MARGIN})",
                 repro=ctx.repro("from sklearn.base import clone", "from conformance.data import dataset_for",
                                 f"X, y = dataset_for(estimator, {n}).xy",
                                 f"centred = clone(estimator).fit(X[:{split}], y[:{split}]).score(X[{split}:], y[{split}:])",
                                 f"X = X + {PRECISION_OFFSET:g}",
                                 f"offset = clone(estimator).fit(X[:{split}], y[:{split}]).score(X[{split}:], y[{split}:])",
                                 f"assert offset >= centred - {PRECISION_MARGIN}, f'score {{offset:.3f}} with the "
                                 f"offset, {{centred:.3f}} without'"))


# --------------------------------------------------------------------------------------------
# The caller's arrays are left alone.

def _snapshot(value):
    return copy.deepcopy(value)


def _changed(before, after) -> str | None:
    """How ``after`` differs from its snapshot ``before``, or None."""
    if isinstance(before, np.ndarray):
        if before.dtype != after.dtype or before.shape != after.shape:
            return f"dtype/shape changed from {before.dtype} {before.shape} to {after.dtype} {after.shape}"
        if np.array_equal(before, after, equal_nan=before.dtype.kind == "f"):
            return None
        diff = np.argwhere(before != after)
        where = tuple(int(i) for i in diff[0]) if len(diff) else ()
        return (f"{len(diff)} of {before.size} values changed (first at {list(where)}: "
                f"{_value(before[where])!r} -> {_value(after[where])!r})")
    if hasattr(before, "equals"):
        return None if before.equals(after) else "the DataFrame's values changed"
    if before == after:
        return None
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        first = next(i for i, (a, b) in enumerate(zip(before, after)) if a != b)
        return f"the list's values changed (first at [{first}]: {before[first]!r} -> {after[first]!r})"
    return "the list's values changed"


def _value(item):
    return item.item() if hasattr(item, "item") else item


def _calls(ctx, estimator):
    """(method, takes_y) of every method that receives X, in the order a user calls them."""
    calls = [("fit", needs_y(ctx.traits))]
    if hasattr(estimator, "fit_transform"):
        calls.append(("fit_transform", needs_y(ctx.traits)))
    calls += [(m, False) for m in inference_methods(estimator)]
    if hasattr(estimator, "predict_log_proba"):
        calls.append(("predict_log_proba", False))
    if hasattr(estimator, "score") and not ctx.traits.is_transformer:
        calls.append(("score", True))
    return calls


@register("inputs.input_not_mutated", applies_to=SUPERVISED)
def input_not_mutated(ctx):
    """No method modifies the caller's X or y, and read-only arrays are accepted.

    ``X -= self.mean_`` on the caller's array corrupts their data silently: the next fit, a
    cross-validation fold or a plot uses the changed values. Read-only arrays (memory-mapped
    files, joblib's shared arrays) must work, which in-place arithmetic also breaks.
    """
    lim = limits(ctx)
    positive = input_tag(ctx.traits, "positive_only")
    width = ctx.traits.n_features

    @st.composite
    def cases(draw):
        # Numeric: ndarrays only: mutation reaches the caller through arrays, and whether lists
        # and DataFrames are accepted at all is inputs.valid_dtypes_and_layouts' rule. Text:
        # lists and object arrays, the containers code can write documents back into.
        if is_text(ctx):
            X = draw(text_inputs(lim.fit_rows, ("list", "object_array")))
        else:
            X = draw(cs.feature_inputs(n_rows=lim.fit_rows, n_features=width, containers_=("ndarray",),
                                       dtypes=("float64", "float32", "int64"), positive=positive))
        return X, fit_y(ctx, X.shape[0], draw)

    # Always tried: the ordinary data, as float64 C-ordered arrays (the ones validate_data passes
    # through uncopied) or as documents in a list and an object array.
    data = ctx.data(n_samples=lim.fit_rows[0])
    y0 = data.y if needs_y(ctx.traits) else None
    if is_text(ctx):
        fixed = [(cs.TextInput(tuple(data.X), container), y0) for container in ("list", "object_array")]
    else:
        X0 = np.ascontiguousarray(np.abs(data.X) if positive else data.X)
        fixed = [(cs.FeatureInput(X0, layout), y0) for layout in ("C", "readonly")]

    def prop(case, script):
        X, y = case
        estimator = ctx.new()
        arrays = ("ndarray", "object_array", "str_array")
        script.add(*X.code("X"), *y_code(y), "X_before = X.copy()" if X.container in arrays
                   else "import copy; X_before = copy.deepcopy(X)")
        if y is not None:
            script.add("y_before = y.copy()")
        fitted = False
        for method, takes_y in _calls(ctx, estimator):
            if not fitted and method not in ("fit", "fit_transform"):
                continue
            X_in = X.build()
            y_in = None if y is None else y.copy()
            if y_in is not None and X.layout == "readonly":
                y_in.setflags(write=False)
            X_copy, y_copy = _snapshot(X_in), _snapshot(y_in)
            args = (X_in, y_in) if takes_y and y_in is not None else (X_in,)
            script.add(f"estimator.{method}(X{', y' if len(args) == 2 else ''})")
            getattr(estimator, method)(*args)
            fitted = True
            for name, before, after in (("X", X_copy, X_in), ("y", y_copy, y_in)):
                if before is None:
                    continue
                change = _changed(before, after)
                if change is not None:
                    check = ("assert np.array_equal(X, X_before)" if name == "X" and X.container in arrays
                             else "assert list(X) == list(X_before)" if name == "X" and X.container in ("list", "tuple")
                             else f"assert ({name} == {name}_before).all().all()" if name == "X"
                             else "assert np.array_equal(y, y_before)")
                    script.add(check)
                    raise Violation(f"{method} modified the caller's {name} in place: {change}",
                                    observed=change, expected=f"{name} unchanged")

    search(ctx, cases(), prop, examples=fixed)


# --------------------------------------------------------------------------------------------
# Invalid input: a clear ValueError or TypeError.

@dataclass(frozen=True)
class InvalidCase:
    name: str
    when: str  # "fit" or "predict"
    make: object = None  # (X, y) -> (X_bad, y_bad)
    code: str = ""  # Python lines turning X (and y) into the bad input
    keywords: tuple = ()
    # True: a ValueError or TypeError naming the problem (one of ``keywords``) is required.
    # False: any exception will do, only silent acceptance fails (see text_invalid_cases).
    strict: bool = True
    # True: at predict, accepting the input is fine when the answer equals the answer on the
    # original (dense) X: sklearn's sparse tag states what fit accepts, and a linear model's
    # predict takes a sparse matrix whatever its solver.
    same_answer_accepted: bool = False

    @property
    def expected(self) -> str:
        if self.strict:
            return f"ValueError or TypeError mentioning one of {list(self.keywords)}"
        return "an exception: the input is refused rather than encoded"


def _sparse(X):
    import scipy.sparse

    return scipy.sparse.csr_matrix(X)


def text_invalid_cases(ctx) -> list[InvalidCase]:
    """The invalid inputs a text estimator must reject.

    A single string must raise ValueError or TypeError naming it: code that iterates its input
    would encode it one character at a time and return one row per character. For the others
    (2-D input, None, NaN or a number among the documents), sklearn's own text estimators raise
    ``AttributeError`` from deep inside their analyser; any exception is accepted, only
    encoding them silently fails. (Bytes documents are valid for some estimators: see
    :func:`bytes_documents_problem`. An empty list of documents is valid for a stateless one.)
    """
    both = ("fit", "predict")
    single = ("str", "string", "text", "iterable", "sequence", "list", "1-d", "1d", "document")
    cases = [InvalidCase("a single string instead of a list of documents", when, lambda X, y: (str(X[1]), y),
                         "X = X[1]  # one str, not a list of documents", single) for when in both]
    cases += [InvalidCase("2-D input (a column of documents)", when,
                          lambda X, y: (np.asarray(X, dtype=object).reshape(-1, 1), y),
                          "X = np.asarray(X, dtype=object).reshape(-1, 1)", strict=False) for when in both]
    for name, value, code in (("None", None, "None"), ("NaN", float("nan"), "float('nan')"), ("a number", 3, "3")):
        cases += [InvalidCase(f"{name} among the documents", when, lambda X, y, value=value: (_with_document(X, value), y),
                              f"X = list(X)\nX[1] = {code}", strict=False) for when in both]
    return cases


def _with_document(X, value):
    docs = list(X)
    docs[1] = value
    return docs


def invalid_cases(ctx) -> list[InvalidCase]:
    """The invalid inputs this estimator must reject, given its tags and input kind."""
    if is_text(ctx):
        return text_invalid_cases(ctx)
    cases = []
    both = ("fit", "predict")
    if not input_tag(ctx.traits, "allow_nan"):
        cases += [InvalidCase("NaN in X", when, lambda X, y: (_with(X, np.nan), y),
                              "X[0, 0] = np.nan", ("nan",)) for when in both]
    cases += [InvalidCase("infinity in X", when, lambda X, y: (_with(X, np.inf), y),
                          "X[0, 0] = np.inf", ("inf",)) for when in both]
    cases += [InvalidCase("an empty X (0 rows)", when, lambda X, y: (X[:0], None if y is None else y[:0]),
                          "X, y = X[:0], y[:0]", ("0 sample", "empty", "minimum", "at least", "zero"))
              for when in both]
    dims = ("1d", "2d", "dimension", "reshape", "ndim", "dim ")
    cases += [InvalidCase("a 1-D X", when, lambda X, y: (X[:, 0].copy(), y), "X = X[:, 0].copy()", dims)
              for when in both]
    cases += [InvalidCase("a 3-D X", when, lambda X, y: (np.stack([X, X], axis=2), y),
                          "X = np.stack([X, X], axis=2)", dims + ("3",)) for when in both]
    cases += [InvalidCase("complex numbers in X", when, lambda X, y: (X + 1j, y), "X = X + 1j", ("complex",))
              for when in both]
    if not input_tag(ctx.traits, "string"):
        strings = ("string", "convert", "numeric")
        cases += [InvalidCase("strings in X", when, lambda X, y: (np.char.add("v", X.astype(str)), y),
                              'X = np.char.add("v", X.astype(str))', strings)
                  for when in both]
        cases += [InvalidCase("a string among numbers (object X)", when,
                              lambda X, y: (_with(X.astype(object), "a"), y),
                              "X = X.astype(object)\nX[0, 0] = 'a'", strings) for when in both]
    if not input_tag(ctx.traits, "sparse"):
        cases += [InvalidCase("a scipy.sparse matrix (the estimator's tags say sparse is unsupported)", when,
                              lambda X, y: (_sparse(X), y),
                              "import scipy.sparse\nX = scipy.sparse.csr_matrix(X)", ("sparse", "dense"),
                              same_answer_accepted=True)
                  for when in both]
    width = ctx.traits.n_features
    cases.append(InvalidCase(f"{width + 1} features where the estimator was fit on {width}", "predict",
                             lambda X, y: (np.hstack([X, X[:, :1]]), y), "X = np.hstack([X, X[:, :1]])",
                             ("feature",)))
    if width > 1:
        cases.append(InvalidCase(f"{width - 1} features where the estimator was fit on {width}", "predict",
                                 lambda X, y: (X[:, 1:].copy(), y), "X = X[:, 1:].copy()", ("feature",)))
    return cases


def _with(X, value):
    X = X.copy()
    X[0, 0] = value
    return X


@register("inputs.invalid_input_errors", applies_to=SUPERVISED, fits_as_configured=False)
def invalid_input_errors(ctx):
    """Invalid input raises ValueError or TypeError whose message names the problem.

    NaN or infinity (unless the tags allow NaN), empty arrays, 1-D or 3-D X, complex numbers,
    strings, sparse matrices the estimator cannot take, and the wrong number of features at
    predict must fail at once with a message the user can act on. Silent acceptance returns
    garbage; torch's own errors ("mat1 and mat2 shapes cannot be multiplied") name the symptom
    deep inside the network, not the input.
    """
    data = ctx.data(n_samples=20)
    positive = input_tag(ctx.traits, "positive_only") and not is_text(ctx)
    X0 = np.abs(data.X) if positive else data.X
    y0 = data.y if needs_y(ctx.traits) else None
    fitted, _ = ctx.fitted()
    problems = []
    for case in invalid_cases(ctx):
        if case.when == "fit" and not requires_fit(ctx.traits):
            continue  # a stateless estimator's fit reads nothing: only its answers can refuse
        X_bad, y_bad = case.make(X0.copy(), None if y0 is None else y0.copy())
        methods = ["fit"] if case.when == "fit" else inference_methods(fitted)
        for method in methods:
            estimator = ctx.new() if method == "fit" else fitted
            args = (X_bad,) if method != "fit" or y_bad is None else (X_bad, y_bad)
            problem = _rejection_problem(estimator, method, args, case)
            if problem is not None and method != "fit" and case.same_answer_accepted \
                    and _same_answer(estimator, method, X_bad, X0):
                problem = None
            if problem is not None:
                problems.append((case, method, problem))
    if is_text(ctx):
        bytes_problem = bytes_documents_problem(ctx, fitted, X0)
        if bytes_problem is not None:
            problems.append(bytes_problem)
    if not problems:
        return
    case, method, problem = problems[0]
    setup = (["from conformance.data import dataset_for", "X, y = dataset_for(estimator, 20).xy"]
             + (["X = np.abs(X)"] if positive else [])
             + ([] if method == "fit" else [f"estimator.fit(*dataset_for(estimator, {ctx.budget.n_samples}).fit_args())"]))
    call = f"estimator.{method}(X{', y' if method == 'fit' and y0 is not None else ''})"
    more = f" ({len(problems)} problems in all, listed under observed)" if len(problems) > 1 else ""
    ctx.fail(f"{method} on {case.name}: {problem}{more}",
             observed="".join(f"\n      - {m} on {c.name}: {p}" for c, m, p in problems), expected=case.expected,
             repro=ctx.repro("import numpy as np", *setup, *case.code.splitlines(), *_refusal_lines(case, method, call)))


def _refusal_lines(case, method: str, call: str) -> list[str]:
    """The repro's end: make the call and assert it is refused as ``case`` requires."""
    if case.make is None:  # the bytes case: its code makes the comparison itself
        return []
    if not case.strict:
        return ["try:", f"    {call}", "except Exception:", "    pass",
                "else:", f"    raise AssertionError('{method} accepted {case.name} silently')"]
    return ["try:", f"    {call}", "except (ValueError, TypeError) as exc:",
            f"    assert any(k in str(exc).lower() for k in {list(case.keywords)!r}), "
            "f'the error does not name the problem: {exc}'",
            "else:", f"    raise AssertionError('{method} accepted {case.name} silently')"]


def bytes_documents_problem(ctx, fitted, X) -> tuple | None:
    """Documents given as UTF-8 bytes must be refused, or encoded exactly as the same text.

    Some text estimators decode bytes (sklearn's vectorizers, ``input='content'``), others
    refuse them; one that accepts bytes and encodes them differently (a ``str(b'...')`` repr
    tokenised as text) answers for other documents than the user's.
    """
    texts = [str(d) for d in X]
    encoded = [d.encode("utf-8") for d in texts]
    for method in inference_methods(fitted):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                observed = dense(getattr(fitted, method)(encoded))
        except Exception:  # noqa: BLE001 - refusing bytes is fine
            continue
        expected = dense(getattr(fitted, method)(texts))
        tolerance = ctx.tolerance("batch", precision_dtype(fitted, expected))
        problem = mismatch(observed, expected, tolerance)
        if problem is not None:
            code = "\n".join(["from conformance.testing import dense", "texts = [str(d) for d in X]", "encoded = [d.encode('utf-8') for d in texts]",
                              assertion_line(f"dense(estimator.{method}(encoded))",
                                             f"dense(estimator.{method}(texts))", expected, tolerance)])
            case = InvalidCase("documents given as UTF-8 bytes", "predict", None, code, (), strict=False)
            return case, method, f"accepted them but answered differently than for the same text: {problem}"
    return None


def _same_answer(estimator, method: str, X_other, X) -> bool:
    """Whether ``method`` answers ``X_other`` (a sparse copy of ``X``, say) as it answers ``X``."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            other, plain = dense(getattr(estimator, method)(X_other)), dense(getattr(estimator, method)(X))
        return np.shape(other) == np.shape(plain) and np.allclose(other, plain, equal_nan=True)
    except Exception:  # noqa: BLE001 - an answer that cannot be compared is not the same answer
        return False


def _rejection_problem(estimator, method, args, case) -> str | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = getattr(estimator, method)(*args)
    except Exception as exc:  # noqa: BLE001 - any refusal will do for a lenient case
        if not case.strict and not isinstance(exc, (KeyboardInterrupt, SystemExit)):
            return None
        if not isinstance(exc, (ValueError, TypeError)):
            first = (str(exc).strip().splitlines() or [""])[0][:200]
            return f"raised {type(exc).__name__} (not ValueError/TypeError): {first!r}"
        text = str(exc).lower()
        if any(k in text for k in case.keywords):
            return None
        first = (str(exc).strip().splitlines() or [""])[0][:200]
        return f"raised {type(exc).__name__} whose message does not name the problem: {first!r}"
    shape = getattr(out, "shape", None)
    return f"accepted it silently (returned {type(out).__name__}{'' if shape is None else f' of shape {shape}'})"


# --------------------------------------------------------------------------------------------
# Inference invariants: batch composition, row order, batch size, repeated calls.

def _fitted_for_inference(ctx):
    estimator, _ = ctx.fitted()
    methods = inference_methods(estimator)
    if not methods:
        ctx.skip("the estimator has no predict, predict_proba, decision_function or transform")
    return estimator, methods


def _reference_scores(outputs):
    return outputs.get("predict_proba", outputs.get("decision_function"))


@register("inputs.batch_invariance", applies_to=SUPERVISED)
def batch_invariance(ctx):
    """A row's output does not depend on the other rows in its call, nor on the batch size.

    Users score one row at a time in a service and millions in a batch job; batch norm left in
    training mode, normalising each call by its own statistics, or a dropped last partial batch
    make the answer depend on the company a row keeps. Compared within the float-aware "batch"
    tolerance, so 1-ulp BLAS differences between batch shapes pass.
    """
    estimator, methods = _fitted_for_inference(ctx)
    width = fitted_width(ctx, estimator)
    has_batch_size = "batch_size" in estimator.get_params(deep=False)

    @st.composite
    def cases(draw):
        X = draw(predict_matrices(ctx, width, min_rows=2))
        n = X.shape[0]
        subset = draw(st.lists(st.booleans(), min_size=n, max_size=n).filter(any))
        alone = draw(st.integers(0, n - 1))
        batch_size = draw(st.integers(1, n + 1)) if has_batch_size else None
        return X, np.array(subset), alone, batch_size

    def prop(case, script):
        X, subset, alone, batch_size = case
        script.prepare(*ordinary_fit_code(ctx))
        script.add(*X.code("X"))
        full = call_all(estimator, X.array.copy(), methods, script, "X", "_full")
        reference = _reference_scores(full)
        rows = np.flatnonzero(subset)
        script.add(f"rows = {rows.tolist()}")
        part = call_all(estimator, X.array[rows].copy(), methods, script, "X[rows]", "_rows")
        for method in methods:
            compare(ctx, estimator, method, part[method], full[method][rows], "batch",
                    f"{method} of rows {rows.tolist()} called together differs from the same rows "
                    f"inside a call on all {len(X.array)}", None if reference is None else reference[rows],
                    script, (f"{method}_rows", f"{method}_full[rows]"))
        single = call_all(estimator, X.array[alone:alone + 1].copy(), methods, script,
                          f"X[{alone}:{alone + 1}]", "_alone")
        for method in methods:
            compare(ctx, estimator, method, single[method], full[method][alone:alone + 1], "batch",
                    f"{method} of row {alone} called alone differs from the same row in a batch of "
                    f"{len(X.array)}", None if reference is None else reference[alone:alone + 1],
                    script, (f"{method}_alone", f"{method}_full[{alone}:{alone + 1}]"))
        if batch_size is not None:
            other = copy.deepcopy(estimator)
            other.set_params(batch_size=batch_size)
            script.add(f"estimator.set_params(batch_size={batch_size})")
            sized = call_all(other, X.array.copy(), methods, script, "X", "_sized")
            for method in methods:
                compare(ctx, estimator, method, sized[method], full[method], "batch",
                        f"{method} with batch_size={batch_size} differs from batch_size="
                        f"{estimator.get_params()['batch_size']}", reference,
                        script, (f"{method}_sized", f"{method}_full"))

    search(ctx, cases(), prop)


@register("inputs.row_order_invariance", applies_to=SUPERVISED)
def row_order_invariance(ctx):
    """Permuting the rows of X permutes the outputs the same way, and changes nothing else.

    Shuffled data, sorted data and data grouped by a key must get the same per-row answers.
    The float-aware "batch" tolerance applies, as rows moving between BLAS blocks may change
    the last bit of a float32 result.
    """
    estimator, methods = _fitted_for_inference(ctx)
    width = fitted_width(ctx, estimator)

    @st.composite
    def cases(draw):
        X = draw(predict_matrices(ctx, width, min_rows=2))
        order = draw(st.permutations(range(X.shape[0])))
        return X, np.array(order)

    def prop(case, script):
        X, order = case
        script.prepare(*ordinary_fit_code(ctx))
        script.add(*X.code("X"))
        full = call_all(estimator, X.array.copy(), methods, script, "X", "_full")
        script.add(f"order = {order.tolist()}")
        permuted = call_all(estimator, X.array[order].copy(), methods, script, "X[order]", "_permuted")
        reference = _reference_scores(full)
        for method in methods:
            compare(ctx, estimator, method, permuted[method], full[method][order], "batch",
                    f"{method} on rows in order {order.tolist()} differs from the original output permuted",
                    None if reference is None else reference[order],
                    script, (f"{method}_permuted", f"{method}_full[order]"))

    search(ctx, cases(), prop)


@register("inputs.repeat_call_stable", applies_to=SUPERVISED)
def repeat_call_stable(ctx):
    """Calling an inference method twice on the same input returns bitwise-identical output.

    A model whose predictions change between two identical calls (dropout left on at predict,
    noise from the global RNG, state updated by predict) cannot be tested, cached or audited.
    Same process, same input: no tolerance.
    """
    estimator, methods = _fitted_for_inference(ctx)
    width = fitted_width(ctx, estimator)

    def prop(X, script):
        script.prepare(*ordinary_fit_code(ctx))
        script.add(*X.code("X"))
        first = call_all(estimator, X.array.copy(), methods, script, "X", "_first")
        second = call_all(estimator, X.array.copy(), methods, script, "X", "_second")
        for method in methods:
            compare(ctx, estimator, method, second[method], first[method], "bitwise",
                    f"a second {method} call on the same input returned different output",
                    script=script, names=(f"{method}_second", f"{method}_first"))

    search(ctx, predict_matrices(ctx, width), prop)


def _fit_takes_sample_weight(profile) -> bool:
    return profile.fit_accepts_sample_weight


@register("inputs.sample_weight_equivalence", applies_to=("torch",), requires=_fit_takes_sample_weight,
          fits_as_configured=False)
def sample_weight_equivalence(ctx):
    """Integer sample weights act like repeating rows, and zero weights like dropping them, up to float rounding.

    Users weight rows to rebalance classes or to express confidence; a wrapper that accepts
    ``sample_weight`` and ignores it, or scales the loss wrongly, silently trains another
    model. sklearn's check_sample_weight_equivalence_on_dense_data states the same rule at
    rtol=1e-7, tighter than a float32 network's summation order allows; this is its twin at
    the ``batch`` tolerance of the dtype the model computes in.
    """
    from sklearn.utils import shuffle

    if ctx.traits.params.get("early_stopping") is True:
        ctx.skip("early_stopping=True holds out a validation split, and repeated rows split otherwise than "
                 "weighted ones: the two fits legitimately differ")
    data = ctx.data(n_samples=30, seed=7)
    rng = np.random.default_rng(7)
    weights = rng.integers(0, 4, size=len(data.X))
    if ctx.traits.is_classifier:  # every class keeps a row, so both fits see the same classes
        for label in np.unique(data.y):
            weights[np.flatnonzero(data.y == label)[0]] = max(1, weights[np.flatnonzero(data.y == label)[0]])
    X_repeated, y_repeated = np.repeat(data.X, weights, axis=0), np.repeat(data.y, weights, axis=0)
    X_weighted, y_weighted, w_shuffled = shuffle(data.X, data.y, weights, random_state=0)
    seed = seed_params(ctx, 0)
    repeated = ctx.new(**seed).fit(X_repeated, y_repeated)
    weighted = ctx.new(**seed).fit(X_weighted, y_weighted, sample_weight=w_shuffled)
    steps = ("from sklearn.base import clone", "from sklearn.utils import shuffle",
             f"X = np.array({data.X.tolist()!r})", f"y = np.array({data.y.tolist()!r})",
             f"w = np.array({weights.tolist()!r})",
             f"expected = clone(estimator).set_params({params_text(seed)}).fit(np.repeat(X, w, axis=0), "
             "np.repeat(y, w, axis=0))",
             "Xs, ys, ws = shuffle(X, y, w, random_state=0)",
             f"observed = clone(estimator).set_params({params_text(seed)}).fit(Xs, ys, sample_weight=ws)")
    for method in inference_methods(weighted):
        expected = dense(getattr(repeated, method)(data.X))
        observed = dense(getattr(weighted, method)(data.X))
        tolerance = ctx.tolerance("batch", precision_dtype(weighted, expected))
        problem = mismatch(observed, expected, tolerance)
        if problem is not None:
            ctx.fail(f"{method} after fitting with integer sample_weight differs from fitting on the rows repeated "
                     f"that many times (zero weight: row dropped): {problem}", expected=tolerance.describe(),
                     repro=ctx.repro(*Recipe(steps).lines(method, expected, tolerance)))


# --------------------------------------------------------------------------------------------
# Degenerate but valid data: finite answers, or a refusal of the estimator's own.

# Degeneracies of the target: a class with a single sample (absent from all but one mini-batch)
# for classifiers, a constant target for regressors.
TARGET_DEGENERACIES = {"single_sample_class": "the last class has a single sample",
                       "constant_target": "the target is constant"}


def _target_kinds(ctx) -> tuple:
    if ctx.traits.is_classifier:
        return ("single_sample_class",)
    return ("constant_target",) if ctx.traits.is_regressor else ()


def degenerate_target(ctx, kind: str, y):
    """``y`` made degenerate as ``kind`` says: its last class kept on one row only, or every value equal."""
    y = np.array(y)
    if kind == "constant_target":
        return np.full(y.shape, 3.0)
    last = np.unique(y)[-1]
    rows = np.flatnonzero(y == last)
    y[rows[1:]] = np.unique(y)[0]
    return y


def _torch_backed(traits) -> bool:
    return "torch" in traits.kinds


# Torch-backed only: sklearn's own estimators define the contract, and some of them refuse
# degenerate data in their own documented way (PCA's score_samples on a singular covariance).
@register("inputs.degenerate_data", applies_to=SUPERVISED, input_kinds=("tabular",), requires=_torch_backed)
def degenerate_data(ctx):
    """fit and every inference method, given degenerate but valid data, return finite outputs of the right shape or refuse it with a ValueError of their own (never NaN or inf, never torch's or numpy.linalg's error).

    Real tabular data has constant, all-zero and duplicated columns, identical rows, features
    on scales of 1e-8 and 1e8, float32 values near its largest and below its smallest normal,
    classes with a single sample (absent from most mini-batches) and constant targets. A
    division by a zero standard deviation, a Cholesky of a singular covariance, class weights
    from a mini-batch that lacks a class, or statistics summed in float32 turn them into NaN
    returned without a word, or into "Singular matrix" and torch's own exceptions, which name
    the symptom rather than the data.
    """
    lim = limits(ctx)
    positive = input_tag(ctx.traits, "positive_only")
    x_kinds = tuple(k for k in cs.DEGENERACIES if k != "duplicated_column" or lim.widths[1] > 1)
    kinds = x_kinds + _target_kinds(ctx)

    @st.composite
    def cases(draw):
        kind = draw(st.sampled_from(kinds))
        if kind in cs.DEGENERACIES:
            X = draw(cs.degenerate_inputs(n_rows=lim.fit_rows, n_features=lim.widths, kinds=(kind,)))
            return _positive(X, positive), fit_y(ctx, X.shape[0], draw), kind
        X = draw(cs.feature_inputs(n_rows=lim.fit_rows, n_features=draw(st.integers(*lim.widths)),
                                   dtypes=("float64",), layouts_=("C",), containers_=("ndarray",), positive=positive))
        y = fit_y(ctx, X.shape[0], draw)
        return X, degenerate_target(ctx, kind, y), kind

    def prop(case, script):
        X, y, kind = case
        note = X.note or TARGET_DEGENERACIES.get(kind, "")
        script.add(f"# {note}: a {X.describe()}", *X.code("X"), *y_code(y))
        estimator = ctx.new()
        if not _answers_or_refuses(script, fit_call(y), lambda: estimator.fit(*((X.build(),) if y is None
                                                                                else (X.build(), y))), note):
            return
        for method in inference_methods(estimator):
            out = [None]

            def call(method=method):
                out[0] = getattr(estimator, method)(X.build())
            if not _answers_or_refuses(script, f"out = estimator.{method}(X)", call, note):
                continue
            problems = contract_problems(ctx, estimator, method, out[0], X.shape[0], y, X.dtype)
            if problems:
                script.add(*problems[0].assertion.splitlines())
                raise Violation(f"{method} on degenerate data ({note}): " + "; ".join(problems),
                                observed=_describe_output(out[0]),
                                expected="finite values of the documented shape, or a ValueError refusing the data")

    # One example of each kind on every profile, then a third of the profile's budget of draws.
    search(ctx, cases(), prop, examples=_degenerate_examples(ctx, x_kinds, positive),
           max_examples=max(1, ctx.budget.max_examples // 3))


def _positive(X, positive: bool):
    return cs.FeatureInput(np.abs(X.array), X.layout, X.container, X.note) if positive else X


def _degenerate_examples(ctx, x_kinds, positive) -> list:
    """One case of each degeneracy, on every profile: the search's random draws come after these."""
    lim = limits(ctx)
    n, width = lim.fit_rows[0], max(2, lim.widths[0]) if lim.widths[1] > 1 else lim.widths[0]
    base = np.random.default_rng(0).uniform(-1, 1, size=(n, width))
    data = ctx.data(n_samples=n)
    y = data.y if needs_y(ctx.traits) else None
    cases = [(_positive(cs.FeatureInput(cs.degenerate_matrix(base, kind), note=cs.DEGENERACIES[kind]), positive), y, kind)
             for kind in x_kinds]
    ordinary = cs.FeatureInput(np.abs(base) if positive else base)
    return cases + [(ordinary, degenerate_target(ctx, kind, y), kind) for kind in _target_kinds(ctx)]


def _answers_or_refuses(script, code: str, call, note: str) -> bool:
    """Add ``code`` to ``script`` and run ``call`` (that code): True when it returned, False when
    it refused with a ValueError of the estimator's own.

    Any other exception is a :class:`Violation` naming where it came from; the script's last
    line (``code``) raises it when pasted.
    """
    script.add(code)
    try:
        call()
    except Exception as exc:  # noqa: BLE001 - the kind of exception is the verdict
        if is_clear_refusal(exc):
            return False
        why = leaked_error(exc) or "refuse degenerate data with a ValueError naming the problem, or handle it"
        raise Violation(f"{code.split('(')[0].split('.')[-1]} on degenerate data ({note}) raised "
                        f"{type(exc).__name__}: {first_line(exc)!r}: {why}",
                        observed=f"{type(exc).__name__}: {first_line(exc)}",
                        expected="finite outputs, or a ValueError of the estimator's own") from exc
    return True


# --------------------------------------------------------------------------------------------
# Batch boundaries: b-1, b, b+1 and 2b+1 rows for every batch-size parameter b.

# A batch size kept when 2b+1 rows cost no more than this many times the profile's row count;
# larger ones (4096 rows per inference batch) are set to REDUCED_BATCH_SIZE for the check.
BATCH_ROWS_FACTOR = 4
REDUCED_BATCH_SIZE = 8


def batch_plan(ctx, name: str) -> tuple[int, list[int]]:
    """``(b, sizes)``: the batch size the check sets for parameter ``name`` and the row counts it tries."""
    b = int(ctx.estimator.get_params(deep=False)[name])
    if 2 * b + 1 > BATCH_ROWS_FACTOR * ctx.budget.n_samples:
        b = REDUCED_BATCH_SIZE
    return b, [n for n in sorted({b - 1, b, b + 1, 2 * b + 1}) if n >= 2]


def _has_batch_size_params(traits) -> bool:
    return bool(traits.batch_size_params)


@register("inputs.batch_boundaries", applies_to=SUPERVISED, requires=_has_batch_size_params)
def batch_boundaries(ctx):
    """With each batch-size parameter set to b, fit and every inference method work on b-1, b, b+1 and 2b+1 rows, one output row per input row, each row answered as in one call on all 2b+1.

    A last mini-batch of one row breaks BatchNorm in training ("Expected more than 1 value per
    channel"), ``drop_last=True`` copied into the inference loader loses the last rows, and
    off-by-one slicing drops or repeats a row at a batch boundary. Each shows at one row count
    only, and the suite's other data are rarely that count. Every parameter whose name contains
    ``batch_size`` (``batch_size``, ``predict_batch_size``, ...) is tried in turn.
    """
    tried = []
    for name in ctx.traits.batch_size_params:
        b, sizes = batch_plan(ctx, name)
        fitted = None
        for n in sizes:
            fitted = _fit_and_answer(ctx, name, b, n)
        _rows_agree(ctx, fitted, name, b, sizes)
        tried.append(f"{name}={b}: {', '.join(map(str, sizes))} rows")
    return "; ".join(tried)


def _boundary_setup(ctx, name: str, b: int, n: int) -> list[str]:
    return [f"estimator.set_params({name}={b})", "from conformance.data import dataset_for",
            f"X, y = dataset_for(estimator, {n}).xy"]


def _fit_and_answer(ctx, name: str, b: int, n: int):
    """Fit on ``n`` rows with ``name=b`` and check every inference method's answer on them."""
    estimator = ctx.new(**{name: b})
    data = ctx.data(n_samples=n)
    setup = _boundary_setup(ctx, name, b, n)
    fit_line = fit_call(data.y if needs_y(ctx.traits) else None)
    try:
        estimator.fit(*data.fit_args())
    except Exception as exc:  # noqa: BLE001 - valid data: any exception is the finding
        ctx.fail(f"fit on {n} rows with {name}={b} raised {type(exc).__name__}: {first_line(exc)}",
                 observed=f"{type(exc).__name__} at {n} rows ({_boundary_words(n, b)})",
                 expected="fit succeeds at every row count", repro=ctx.repro(*setup, fit_line), cause=exc)
    for method in inference_methods(estimator):
        try:
            out = getattr(estimator, method)(data.X)
        except Exception as exc:  # noqa: BLE001
            ctx.fail(f"{method} on {n} rows with {name}={b} raised {type(exc).__name__}: {first_line(exc)}",
                     observed=f"{type(exc).__name__} at {n} rows ({_boundary_words(n, b)})",
                     expected=f"{method} succeeds at every row count",
                     repro=ctx.repro(*setup, fit_line, f"estimator.{method}(X)"), cause=exc)
        problems = contract_problems(ctx, estimator, method, out, n, data.y)
        if problems:
            ctx.fail(f"{method} on {n} rows ({_boundary_words(n, b)}) with {name}={b}: " + "; ".join(problems),
                     observed=_describe_output(out), expected=f"one finite answer per row: {n} rows",
                     repro=ctx.repro("import numpy as np", *setup, fit_line, f"out = estimator.{method}(X)",
                                     *problems[0].assertion.splitlines()))
    return estimator


def _boundary_words(n: int, b: int) -> str:
    return {b - 1: "b-1", b: "b", b + 1: "b+1", 2 * b + 1: "2b+1"}.get(n, f"{n}")


def _rows_agree(ctx, estimator, name: str, b: int, sizes: list[int]) -> None:
    """Each leading slice of the largest data answers as the same rows inside one call on all of them."""
    data = ctx.data(n_samples=sizes[-1])
    full = {m: dense(getattr(estimator, m)(data.X)) for m in inference_methods(estimator)}
    reference = _reference_scores(full)
    for m in sizes[:-1]:
        for method, expected in full.items():
            observed = dense(getattr(estimator, method)(data.X[:m]))
            tolerance = ctx.tolerance("batch", precision_dtype(estimator, expected))
            try:
                compare(ctx, estimator, method, observed, expected[:m], "batch", "", None if reference is None
                        else reference[:m])
            except Violation as violation:
                ctx.fail(f"{method} of the first {m} rows ({_boundary_words(m, b)}) with {name}={b} differs from "
                         f"the same rows in a call on {sizes[-1]}{violation.message}", expected=tolerance.describe(),
                         repro=ctx.repro("import numpy as np", "from conformance.testing import dense",
                                         *_boundary_setup(ctx, name, b, sizes[-1]),
                                         fit_call(data.y if needs_y(ctx.traits) else None),
                                         assertion_line(f"dense(estimator.{method}(X[:{m}]))",
                                                        f"dense(estimator.{method}(X))[:{m}]", expected[:m], tolerance)))


# --------------------------------------------------------------------------------------------
# Learning: the model predicts the data it was fitted on.

LEARNED_R2 = 0.5


def _torch_supervised(traits) -> bool:
    return traits.is_classifier or traits.is_regressor


@register("inputs.learns_unstandardised_data", applies_to=("torch",), requires=_torch_supervised,
          input_kinds=("tabular",))
def learns_unstandardised_data(ctx):
    """Fitted on the suite's ordinary data, whose features and target have their own offsets and scales, a torch-backed model predicts that data clearly better than a constant (accuracy halfway from the majority class to perfect, or R² of at least 0.5); in a configuration besides the defaults, on the same data standardised.

    A scaler fitted but not applied at predict, a standardised target never transformed back,
    statistics taken along the wrong axis, or rows shuffled apart from their labels leave a
    model that runs, returns the right shapes, passes every consistency check and predicts
    nothing. sklearn's own checks standardise their data first, so they cannot see any of these.
    In another configuration (``early_stopping=True``, ``scaler="passthrough"``, ``partial_fit``)
    the data is standardised, as a user who changes how the estimator preprocesses hands it
    over: the rule there is that the configuration still trains (early stopping that stops at
    once, or keeps the worst epoch, predicts nothing either).
    """
    if ctx.traits.fit_with == "partial_fit":
        ctx.skip("one pass of partial_fit over a few batches is a few optimizer steps: no rule says it has "
                 "learned yet (determinism.partial_fit_continues_training checks that the calls add up)")
    if ctx.target.configuration is None:
        estimator, data = ctx.fitted()
        X, y, setup, on = data.X, data.y, [], "the data it was fitted on"
    else:
        X, y, setup = _standardised(ctx)
        estimator = ctx.new()
        ctx.fit_arrays(estimator, X, y)
        on = "standardised data (zero mean, unit variance) it was fitted on"
    score = float(estimator.score(X, y))
    if ctx.traits.is_classifier:
        majority = float(np.max(np.unique(y, return_counts=True)[1]) / len(y))
        needed, what = majority + (1 - majority) / 2, "training accuracy"
        baseline = f"the majority class scores {majority:.3f}"
    else:
        needed, what, baseline = LEARNED_R2, "training R²", "a constant prediction of the mean scores 0"
    if score < needed:
        cause = ("is a scaler (of X, or of y) missing at predict, or are X and y shuffled apart?"
                 if ctx.target.configuration is None else
                 "does this configuration stop training at once, keep a worse epoch than the best, or "
                 "skip part of the training?")
        fit = "score = estimator.fit(X, y).score(X, y)" if not setup else "score = estimator.fit(Xs, ys).score(Xs, ys)"
        ctx.fail(f"{what} {score:.3f} on {on}; {baseline}: {cause}",
                 observed=f"{what} {score:.3f}", expected=f"at least {needed:.3f}",
                 repro=ctx.repro(*setup, fit, f"assert score >= {needed:.3f}, f'{what} {{score:.3f}}'"))
    return f"{what} {score:.3f} on {on} (at least {needed:.3f} needed)"


def _standardised(ctx):
    """The suite's ordinary data with zero-mean unit-variance columns (and target, for a regressor), and the repro lines making it."""
    data = ctx.data()
    X = np.asarray(data.X, dtype=np.float64)
    spread = X.std(axis=0)
    X = (X - X.mean(axis=0)) / np.where(spread > 0, spread, 1.0)
    setup = ["Xs = (X - X.mean(axis=0)) / np.where(X.std(axis=0) > 0, X.std(axis=0), 1.0)"]
    y = data.y
    if ctx.traits.is_regressor:
        y = (np.asarray(y, dtype=np.float64) - np.mean(y)) / (np.std(y) or 1.0)
        setup.append("ys = (y - y.mean()) / (y.std() or 1.0)")
    else:
        setup.append("ys = y")
    return X.astype(np.asarray(data.X).dtype), y, setup
