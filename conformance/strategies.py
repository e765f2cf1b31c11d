"""Hypothesis strategies for the inputs users actually pass to an estimator.

Every strategy here is a small public function, like those of ``hypothesis.extra.numpy``: its
docstring says exactly what it generates, and its arguments are validated when it is called
(an ``InvalidArgument`` naming the argument), not when the first example is drawn.

Feature matrices are drawn as :class:`FeatureInput` values: the canonical C-ordered array plus
how it is handed to the estimator (``layout``: C or Fortran order, a non-contiguous strided
view, negative strides, a read-only array, a read-only memmap, non-native byte order;
``container``: ndarray, nested lists or tuples, a pandas DataFrame of numpy or of nullable dtypes). Call
:meth:`FeatureInput.build` for a fresh object to pass and :meth:`FeatureInput.code` for the
Python lines that rebuild it, so a failing example becomes a copy-paste reproduction.

Values come from a drawn seed rather than element by element, so a matrix of a few hundred
entries costs one draw; shrinking still reduces the shape, the seed and the magnitude.

Text is drawn as :class:`TextInput` values the same way: the documents plus the container they
are passed in (list, tuple, numpy ``str`` or object array, pandas ``Series``), with the same
``build``/``code``/``describe`` interface, so a check can take either kind of input.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

__all__ = [
    "CONTAINERS", "LABEL_KINDS", "LAYOUTS", "MAGNITUDES", "TEXT_CONTAINERS", "X_DTYPES", "FeatureInput",
    "TextInput", "DEGENERACIES", "available_containers", "available_text_containers", "class_labels",
    "classification_targets", "containers", "degenerate_matrix", "degenerate_inputs", "documents",
    "feature_inputs", "feature_matrices", "layouts", "magnitudes", "regression_targets", "text_inputs",
    "x_dtypes",
]

X_DTYPES = tuple(np.dtype(d) for d in (
    "float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool"))
LAYOUTS = ("C", "F", "strided", "readonly", "reversed_rows", "reversed_columns", "memmap", "byteswapped")
CONTAINERS = ("ndarray", "list", "dataframe", "tuple", "nullable_dataframe")
_PANDAS_CONTAINERS = ("dataframe", "nullable_dataframe")
# name -> (scale, offset) of floating values: U(-1, 1) * scale + offset.
MAGNITUDES = {"tiny": (1e-6, 0.0), "unit": (1.0, 0.0), "large": (1e4, 0.0), "offset": (1.0, 1e8)}
LABEL_KINDS = ("int", "noncontiguous", "str", "bool")
_MAX_SEED = 2**32 - 1


def _check_int(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise InvalidArgument(f"{name}={value!r} must be an int")
    if value < minimum:
        raise InvalidArgument(f"{name}={value!r} must be at least {minimum}")
    return int(value)


def _check_range(name: str, value, minimum: int) -> tuple[int, int]:
    """An int ``n`` means exactly ``n``; a pair ``(lo, hi)`` means ``lo <= n <= hi``."""
    if isinstance(value, tuple):
        if len(value) != 2:
            raise InvalidArgument(f"{name}={value!r} must be an int or a (min, max) pair")
        lo = _check_int(f"{name}[0]", value[0], minimum)
        hi = _check_int(f"{name}[1]", value[1], minimum)
        if lo > hi:
            raise InvalidArgument(f"{name}={value!r}: min must not exceed max")
        return lo, hi
    n = _check_int(name, value, minimum)
    return n, n


def _check_choices(name: str, values, allowed) -> tuple:
    values = tuple(values)
    if not values:
        raise InvalidArgument(f"{name} must name at least one of {list(allowed)}")
    unknown = [v for v in values if v not in allowed]
    if unknown:
        raise InvalidArgument(f"{name} has unknown values {unknown}; accepted: {list(allowed)}")
    return values


def _sized(bounds: tuple[int, int]):
    return st.integers(*bounds)


def x_dtypes(*, dtypes=X_DTYPES) -> st.SearchStrategy[np.dtype]:
    """Numpy dtypes for a feature matrix, drawn from ``dtypes`` (default :data:`X_DTYPES`:
    float16, float32, float64, int8, int16, int32, int64, uint8 and bool), shrinking towards
    the first."""
    try:
        chosen = tuple(np.dtype(d) for d in dtypes)
    except TypeError as exc:
        raise InvalidArgument(f"dtypes={dtypes!r}: {exc}") from None
    _check_choices("dtypes", chosen, X_DTYPES)
    return st.sampled_from(chosen)


def layouts(*, allowed=LAYOUTS) -> st.SearchStrategy[str]:
    """Memory layouts from ``allowed`` (default :data:`LAYOUTS`): ``"C"`` (C order),
    ``"F"`` (Fortran order), ``"strided"`` (a view with strides twice the item size along
    both axes, so neither C- nor F-contiguous), ``"readonly"`` (C order, ``writeable`` flag
    cleared), ``"reversed_rows"`` and ``"reversed_columns"`` (views with a negative stride, as
    ``X[::-1]`` and ``X[:, ::-1]`` make), ``"memmap"`` (a read-only ``np.memmap`` of a temporary
    file) and ``"byteswapped"`` (non-native byte order, as arrays read from big-endian files
    are), shrinking towards the first."""
    return st.sampled_from(_check_choices("allowed", allowed, LAYOUTS))


def available_containers() -> tuple[str, ...]:
    """The containers of :data:`CONTAINERS` usable here: the data frames need pandas."""
    if importlib.util.find_spec("pandas") is None:
        return tuple(c for c in CONTAINERS if c not in _PANDAS_CONTAINERS)
    return CONTAINERS


def containers(*, allowed=None) -> st.SearchStrategy[str]:
    """Containers from ``allowed`` (default :func:`available_containers`): ``"ndarray"``,
    ``"list"`` (nested Python lists from ``ndarray.tolist``), ``"dataframe"`` (a pandas
    DataFrame with string column names ``f0``, ``f1``, ...), ``"tuple"`` (a tuple of row
    tuples) and ``"nullable_dataframe"`` (the DataFrame in pandas' nullable dtypes:
    ``Float64``, ``Int64``, ``boolean``); shrinking towards the first."""
    allowed = available_containers() if allowed is None else allowed
    allowed = _check_choices("allowed", allowed, CONTAINERS)
    missing = [c for c in allowed if c not in available_containers()]
    if missing:
        raise InvalidArgument(f"allowed contains {missing} but pandas is not installed")
    return st.sampled_from(allowed)


def magnitudes(*, allowed=tuple(MAGNITUDES)) -> st.SearchStrategy[str]:
    """Names of value magnitudes from ``allowed`` (keys of :data:`MAGNITUDES`): ``"tiny"``
    (U(-1, 1) * 1e-6), ``"unit"`` (U(-1, 1)), ``"large"`` (U(-1, 1) * 1e4) and ``"offset"``
    (1e8 + U(-1, 1), whose information only float64 carries); shrinking towards the first."""
    return st.sampled_from(_check_choices("allowed", allowed, MAGNITUDES))


def _values(rng: np.random.Generator, shape, dtype: np.dtype, magnitude: str, positive: bool) -> np.ndarray:
    """Finite values of ``dtype``; ``magnitude`` applies to floats, integers use their range."""
    if dtype == np.bool_:
        return rng.random(shape) < 0.5
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        lo = 0 if positive or dtype.kind == "u" else max(info.min, -100)
        return rng.integers(lo, min(info.max, 100 if dtype.kind == "i" else 255), size=shape,
                            endpoint=True).astype(dtype)
    scale, offset = MAGNITUDES[magnitude]
    values = rng.uniform(0 if positive else -1, 1, size=shape) * scale + offset
    return values.astype(dtype)


def _fits(dtype: np.dtype, magnitude: str) -> bool:
    """Whether ``magnitude``'s values are finite and not flushed to zero in ``dtype``."""
    if dtype.kind != "f":
        return magnitude == "unit"  # integers and bools ignore the magnitude
    scale, offset = MAGNITUDES[magnitude]
    info = np.finfo(dtype)
    return scale + offset < float(info.max) and scale > float(info.smallest_normal) * 1e3


def feature_matrices(*, n_rows, n_features, dtype=np.float64, magnitude="unit",
                     positive: bool = False) -> st.SearchStrategy[np.ndarray]:
    """C-ordered 2-D arrays of ``dtype`` with finite values, shape ``(rows, columns)``.

    ``n_rows`` and ``n_features`` are an int (exactly) or a ``(min, max)`` pair (both at least
    1), or strategies of ints. Floats are U(-1, 1) scaled and offset by ``magnitude`` (see
    :func:`magnitudes`); integers lie in ``[-100, 100]`` (``[0, 255]`` unsigned), bools are
    fair coins. ``positive=True`` draws non-negative values only. A ``magnitude`` that would
    overflow or underflow ``dtype`` (``"offset"`` in float16, say) is an ``InvalidArgument``.
    """
    dtype = np.dtype(dtype)
    _check_choices("dtype", [dtype], X_DTYPES)
    _check_choices("magnitude", [magnitude], MAGNITUDES)
    if not _fits(dtype, magnitude) and dtype.kind == "f":
        raise InvalidArgument(f"magnitude={magnitude!r} does not fit dtype={dtype.name}")
    rows = n_rows if isinstance(n_rows, st.SearchStrategy) else _sized(_check_range("n_rows", n_rows, 1))
    cols = (n_features if isinstance(n_features, st.SearchStrategy)
            else _sized(_check_range("n_features", n_features, 1)))

    @st.composite
    def draw(draw_):
        shape = (draw_(rows), draw_(cols))
        rng = np.random.default_rng(draw_(st.integers(0, _MAX_SEED)))
        return _values(rng, shape, dtype, magnitude, positive)

    return draw()


@dataclass(frozen=True, eq=False)
class FeatureInput:
    """One drawn feature matrix and how it is passed: ``layout`` and ``container``."""

    array: np.ndarray  # canonical C-ordered values
    layout: str = "C"
    container: str = "ndarray"
    note: str = ""  # what makes the values special (degenerate data), for describe()

    @property
    def dtype(self) -> np.dtype:
        return self.array.dtype

    @property
    def shape(self) -> tuple:
        return self.array.shape

    def columns(self) -> list[str]:
        return [f"f{i}" for i in range(self.array.shape[1])]

    def build(self):
        """A fresh object to pass to the estimator (never shared between calls)."""
        a = self.array
        if self.container in ("list", "tuple"):
            rows = a.tolist()
            return rows if self.container == "list" else tuple(tuple(row) for row in rows)
        if self.container in _PANDAS_CONTAINERS:
            import pandas as pd

            frame = pd.DataFrame(a.copy(), columns=self.columns())
            return frame.astype(_nullable_dtype(a.dtype)) if self.container == "nullable_dataframe" else frame
        return _laid_out(a, self.layout)

    def code(self, name: str = "X") -> list[str]:
        """Python lines (numpy imported as ``np``) that bind ``name`` to :meth:`build`'s value."""
        lines = [f"{name} = " + array_literal(self.array)]
        if self.container == "list":
            return [*lines, f"{name} = {name}.tolist()"]
        if self.container == "tuple":
            return [*lines, f"{name} = tuple(tuple(row) for row in {name}.tolist())"]
        if self.container in _PANDAS_CONTAINERS:
            lines = ["import pandas as pd", *lines, f"{name} = pd.DataFrame({name}, columns={self.columns()!r})"]
            if self.container == "nullable_dataframe":
                lines.append(f"{name} = {name}.astype({_nullable_dtype(self.array.dtype)!r})  # pandas' nullable dtype")
            return lines
        return lines + _LAYOUT_CODE.get(self.layout, lambda n: [])(name)

    def describe(self) -> str:
        how = self.container if self.container != "ndarray" else f"{self.layout}-layout ndarray"
        return f"{self.dtype.name} {how} of shape {self.shape}" + (f" ({self.note})" if self.note else "")


def _nullable_dtype(dtype: np.dtype) -> str:
    """The pandas nullable dtype holding ``dtype``'s values."""
    return "boolean" if dtype == np.bool_ else ("Float64" if dtype.kind == "f" else "Int64")


def _laid_out(a: np.ndarray, layout: str) -> np.ndarray:
    """A fresh array equal to ``a`` in ``layout`` (see :func:`layouts`)."""
    if layout == "F":
        return np.asfortranarray(a)
    if layout == "strided":
        return np.repeat(np.repeat(a, 2, axis=0), 2, axis=1)[::2, ::2]
    if layout == "reversed_rows":
        return a[::-1].copy()[::-1]
    if layout == "reversed_columns":
        return a[:, ::-1].copy()[:, ::-1]
    if layout == "byteswapped":
        return a.astype(a.dtype.newbyteorder("S"))
    if layout == "memmap":
        return _read_only_memmap(a)
    out = a.copy()
    if layout == "readonly":
        out.setflags(write=False)
    return out


def _read_only_memmap(a: np.ndarray) -> np.memmap:
    """A read-only ``np.memmap`` of ``a``'s bytes in an anonymous temporary file (gone once unmapped)."""
    import tempfile

    with tempfile.TemporaryFile() as handle:
        handle.write(np.ascontiguousarray(a).tobytes())
        handle.flush()
        return np.memmap(handle, dtype=a.dtype, mode="r", shape=a.shape)


_LAYOUT_CODE = {
    "F": lambda n: [f"{n} = np.asfortranarray({n})"],
    "strided": lambda n: [f"{n} = np.repeat(np.repeat({n}, 2, axis=0), 2, axis=1)[::2, ::2]  # a non-contiguous view"],
    "readonly": lambda n: [f"{n}.setflags(write=False)"],
    "reversed_rows": lambda n: [f"{n} = {n}[::-1].copy()[::-1]  # a view with a negative row stride"],
    "reversed_columns": lambda n: [f"{n} = {n}[:, ::-1].copy()[:, ::-1]  # a view with a negative column stride"],
    "byteswapped": lambda n: [f"{n} = {n}.astype({n}.dtype.newbyteorder('S'))  # non-native byte order"],
    "memmap": lambda n: ["import tempfile", "_file = tempfile.TemporaryFile()",
                         f"_file.write({n}.tobytes()); _file.flush()",
                         f"{n} = np.memmap(_file, dtype={n}.dtype, mode='r', shape={n}.shape)  # read-only"],
}


def array_literal(array) -> str:
    """``np.array(...)`` source text that rebuilds ``array`` exactly (dtype included)."""
    array = np.asarray(array)
    dtype = "bool_" if array.dtype == np.bool_ else array.dtype.name
    if array.dtype.kind in "OU":
        dtype = "object" if array.dtype.kind == "O" else str(array.dtype)
        return f"np.array({array.tolist()!r}, dtype={dtype!r})"
    body = repr(array.tolist())
    if array.ndim == 2 and array.shape[0] > 1:
        body = "[\n    " + ",\n    ".join(repr(row) for row in array.tolist()) + ",\n]"
    return f"np.array({body}, dtype=np.{dtype})"


def feature_inputs(*, n_rows, n_features, dtypes=X_DTYPES, layouts_=LAYOUTS, containers_=None,
                   magnitudes_=("unit",), positive: bool = False) -> st.SearchStrategy[FeatureInput]:
    """:class:`FeatureInput` values: a :func:`feature_matrices` array with a drawn dtype,
    magnitude, layout and container.

    ``dtypes``, ``layouts_``, ``containers_`` (default: :func:`available_containers`) and
    ``magnitudes_`` list the choices. A magnitude that does not fit the drawn dtype is replaced
    by ``"unit"`` (integers and bools always use their own range). Layouts other than C apply
    to ndarrays only: lists, tuples and DataFrames are drawn with layout ``"C"``.
    """
    dtype_strategy = x_dtypes(dtypes=dtypes)
    layout_strategy = layouts(allowed=layouts_)
    container_strategy = containers(allowed=containers_)
    magnitude_strategy = magnitudes(allowed=magnitudes_)
    rows = _sized(_check_range("n_rows", n_rows, 1)) if not isinstance(n_rows, st.SearchStrategy) else n_rows
    cols = (_sized(_check_range("n_features", n_features, 1))
            if not isinstance(n_features, st.SearchStrategy) else n_features)

    @st.composite
    def draw(draw_):
        dtype = draw_(dtype_strategy)
        magnitude = draw_(magnitude_strategy)
        if not _fits(dtype, magnitude):
            magnitude = "unit"
        array = draw_(feature_matrices(n_rows=rows, n_features=cols, dtype=dtype,
                                       magnitude=magnitude, positive=positive))
        container = draw_(container_strategy)
        layout = draw_(layout_strategy) if container == "ndarray" else "C"
        return FeatureInput(array, layout, container)

    return draw()


# Degenerate but valid feature matrices: name -> what describe() says of them. Real tabular data
# has each; a correct estimator fits it and answers with finite values, or refuses it clearly.
DEGENERACIES = {
    "constant_column": "column 0 is constant",
    "zero_column": "column 0 is all zeros",
    "duplicated_column": "column 1 duplicates column 0",
    "identical_rows": "every row is the same",
    "tiny_column": "column 0 is on a scale of 1e-8",
    "huge_column": "column 0 is on a scale of 1e8",
    "float32_huge": "float32 values up to 1e37, near float32's largest",
    "float32_subnormal": "float32 values up to 1e-40, below float32's smallest normal",
}


def degenerate_matrix(base: np.ndarray, kind: str) -> np.ndarray:
    """``base`` (finite floats of unit scale, at least 2 columns for ``"duplicated_column"``) made
    degenerate as :data:`DEGENERACIES` names ``kind``; a new array, float32 for the float32 kinds."""
    _check_choices("kind", [kind], DEGENERACIES)
    X = np.array(base, dtype=np.float64)
    if kind == "duplicated_column" and X.shape[1] < 2:
        raise InvalidArgument("kind='duplicated_column' needs at least 2 columns")
    if kind == "constant_column":
        X[:, 0] = 7.5
    elif kind == "zero_column":
        X[:, 0] = 0.0
    elif kind == "duplicated_column":
        X[:, 1] = X[:, 0]
    elif kind == "identical_rows":
        X[:] = X[0]
    elif kind in ("tiny_column", "huge_column"):
        X[:, 0] *= 1e-8 if kind == "tiny_column" else 1e8
    elif kind == "float32_huge":
        return (X * 1e37).astype(np.float32)
    elif kind == "float32_subnormal":
        return (X * 1e-40).astype(np.float32)
    return X


def degenerate_inputs(*, n_rows, n_features, kinds=tuple(DEGENERACIES)) -> st.SearchStrategy[FeatureInput]:
    """C-ordered :class:`FeatureInput` arrays made degenerate by a drawn kind of ``kinds`` (keys of
    :data:`DEGENERACIES`, shrinking towards the first): a constant, all-zero or duplicated
    column, identical rows, a column on a scale of 1e-8 or 1e8, float32 values near its largest or
    below its smallest normal. The base values are U(-1, 1); the note says which degeneracy it is.
    ``"duplicated_column"`` is left out when ``n_features`` is exactly 1."""
    kinds = _check_choices("kinds", kinds, DEGENERACIES)
    lo, hi = _check_range("n_features", n_features, 1)
    if hi == 1:
        kinds = tuple(k for k in kinds if k != "duplicated_column") or ("constant_column",)
    rows = _sized(_check_range("n_rows", n_rows, 1))

    @st.composite
    def draw(draw_):
        kind = draw_(st.sampled_from(kinds))
        width = draw_(st.integers(max(lo, 2) if kind == "duplicated_column" else lo, hi))
        base = draw_(feature_matrices(n_rows=rows, n_features=width))
        return FeatureInput(degenerate_matrix(base, kind), note=DEGENERACIES[kind])

    return draw()


def class_labels(*, n_classes=(2, 5), kinds=LABEL_KINDS) -> st.SearchStrategy[np.ndarray]:
    """Sorted 1-D arrays of distinct class values, as ``np.unique`` would return them.

    ``n_classes`` is an int or ``(min, max)`` pair (at least 2). ``kinds`` chooses among
    ``"int"`` (0, 1, ..., k-1), ``"noncontiguous"`` (distinct ints in [-50, 50], negatives
    included, gaps between them), ``"str"`` (distinct short strings such as ``"c7"``) and
    ``"bool"`` (``[False, True]``; drawn only when 2 classes fit ``n_classes``).
    """
    lo, hi = _check_range("n_classes", n_classes, 2)
    kinds = _check_choices("kinds", kinds, LABEL_KINDS)
    if kinds == ("bool",) and lo > 2:
        raise InvalidArgument(f"kinds=('bool',) allows 2 classes only, but n_classes={n_classes!r}")
    usable = tuple(k for k in kinds if k != "bool" or lo <= 2)

    @st.composite
    def draw(draw_):
        kind = draw_(st.sampled_from(usable))
        if kind == "bool":
            return np.array([False, True])
        k = draw_(st.integers(lo, hi))
        if kind == "int":
            return np.arange(k)
        values = draw_(st.lists(st.integers(-50, 50), min_size=k, max_size=k, unique=True))
        if kind == "noncontiguous":
            return np.array(sorted(values))
        return np.unique(np.array([f"c{v}" for v in values]))

    return draw()


def classification_targets(*, n_samples, classes, min_per_class: int = 2,
                           imbalanced: bool = True, singleton: bool = False) -> st.SearchStrategy[np.ndarray]:
    """1-D label arrays of length ``n_samples`` in which every value of ``classes`` occurs at
    least ``min_per_class`` times.

    ``classes`` is a strategy of class-value arrays (:func:`class_labels`) or one such array.
    With ``imbalanced=True`` the remaining rows go to the classes with drawn weights from 1 to
    20, so one class may hold most rows; otherwise they are spread evenly. With
    ``singleton=True`` the last class occurs exactly once (a class with a single sample, absent
    from every mini-batch but one). Rows are shuffled.
    """
    n_samples = _check_int("n_samples", n_samples, 2)
    min_per_class = _check_int("min_per_class", min_per_class, 1)
    classes_strategy = classes if isinstance(classes, st.SearchStrategy) else st.just(np.asarray(classes))

    @st.composite
    def draw(draw_):
        values = draw_(classes_strategy)
        k = len(values)
        if k * min_per_class > n_samples:
            raise InvalidArgument(f"n_samples={n_samples} cannot hold {k} classes with "
                                  f"min_per_class={min_per_class}")
        weights = (np.array(draw_(st.lists(st.integers(1, 20), min_size=k, max_size=k)), float)
                   if imbalanced else np.ones(k))
        rng = np.random.default_rng(draw_(st.integers(0, _MAX_SEED)))
        common = k - 1 if singleton else k
        if common < 1 or common * min_per_class + singleton > n_samples:
            raise InvalidArgument(f"n_samples={n_samples} cannot hold {k} classes with min_per_class="
                                  f"{min_per_class}{' and a single-sample class' if singleton else ''}")
        share = weights[:common] / weights[:common].sum()
        extra = rng.choice(common, size=n_samples - common * min_per_class - singleton, p=share)
        codes = np.concatenate([np.repeat(np.arange(common), min_per_class), extra,
                                np.full(int(singleton), k - 1)]).astype(np.intp)
        rng.shuffle(codes)
        return values[codes]

    return draw()


def regression_targets(*, n_samples, n_outputs=1, dtype=np.float64) -> st.SearchStrategy[np.ndarray]:
    """Finite float targets: shape ``(n_samples,)`` when ``n_outputs`` is 1, else
    ``(n_samples, n_outputs)``; ``n_outputs`` may be an int, a ``(min, max)`` pair or a
    strategy. Values are N(0, 1) times a drawn scale in {1, 100}, plus a drawn offset in
    {0, 10}."""
    n_samples = _check_int("n_samples", n_samples, 1)
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise InvalidArgument(f"dtype={dtype.name} must be a float dtype")
    outputs = (n_outputs if isinstance(n_outputs, st.SearchStrategy)
               else _sized(_check_range("n_outputs", n_outputs, 1)))

    @st.composite
    def draw(draw_):
        k = draw_(outputs)
        scale = draw_(st.sampled_from([1.0, 100.0]))
        offset = draw_(st.sampled_from([0.0, 10.0]))
        rng = np.random.default_rng(draw_(st.integers(0, _MAX_SEED)))
        shape = (n_samples,) if k == 1 else (n_samples, k)
        return (rng.normal(size=shape) * scale + offset).astype(dtype)

    return draw()


# --- text --------------------------------------------------------------------------------------

TEXT_CONTAINERS = ("list", "tuple", "str_array", "object_array", "series", "string_series")
_PANDAS_TEXT = ("series", "string_series")


def available_text_containers() -> tuple[str, ...]:
    """:data:`TEXT_CONTAINERS`, without the pandas ones when pandas is not installed."""
    if importlib.util.find_spec("pandas") is None:
        return tuple(c for c in TEXT_CONTAINERS if c not in _PANDAS_TEXT)
    return TEXT_CONTAINERS


def documents(*, n_rows, max_words: int = 20, long_words: int = 0) -> st.SearchStrategy[tuple]:
    """Tuples of ``n_rows`` text documents (an int or a ``(min, max)`` pair).

    Each document joins up to ``max_words`` words drawn from the vocabulary of
    :mod:`conformance.data` (class words, common words with accents, CJK and an emoji); a
    document may be empty, may repeat another one, and, when ``long_words`` is positive, may be
    ``long_words`` words long (longer than a model's ``max_length``). The last document always
    holds two class words, so a vocabulary learnt from the corpus is never empty. Shrinking
    goes towards fewer, shorter documents of the first words.
    """
    from conformance.data import CLASS_WORDS, COMMON_WORDS

    rows = _sized(_check_range("n_rows", n_rows, 1))
    max_words = _check_int("max_words", max_words, 1)
    long_words = _check_int("long_words", long_words, 0)
    vocabulary = tuple(w for words in CLASS_WORDS for w in words) + COMMON_WORDS
    word_lists = st.lists(st.sampled_from(vocabulary), max_size=max_words)
    if long_words:
        word_lists = word_lists | st.lists(st.sampled_from(vocabulary), min_size=long_words, max_size=long_words)

    content = st.lists(st.sampled_from(tuple(w for words in CLASS_WORDS for w in words)), min_size=2, max_size=4)

    @st.composite
    def draw(draw_):
        n = draw_(rows)
        docs = [" ".join(draw_(word_lists)) for _ in range(n - 1)] + [" ".join(draw_(content))]
        if n > 2 and draw_(st.booleans()):
            docs[draw_(st.integers(1, n - 2))] = docs[0]  # a duplicate
        return tuple(docs)

    return draw()


@dataclass(frozen=True, eq=False)
class TextInput:
    """One drawn sequence of documents and the container it is passed in."""

    docs: tuple
    container: str = "object_array"

    @property
    def array(self) -> np.ndarray:
        """The documents as a 1-D object array: what checks index, compare and permute."""
        return np.array(self.docs, dtype=object)

    @property
    def dtype(self):
        return None  # no numeric dtype: transform outputs are held to no dtype promise

    @property
    def shape(self) -> tuple:
        return (len(self.docs),)

    layout = "C"

    def build(self):
        """A fresh object to pass to the estimator (never shared between calls)."""
        docs = list(self.docs)
        if self.container == "list":
            return docs
        if self.container == "tuple":
            return tuple(docs)
        if self.container == "str_array":
            return np.array(docs, dtype=str)
        if self.container in _PANDAS_TEXT:
            import pandas as pd

            return pd.Series(docs, dtype="string" if self.container == "string_series" else object)
        return np.array(docs, dtype=object)

    def code(self, name: str = "X") -> list[str]:
        """Python lines (numpy imported as ``np``) that bind ``name`` to :meth:`build`'s value."""
        docs = repr(list(self.docs))
        if self.container == "list":
            return [f"{name} = {docs}"]
        if self.container == "tuple":
            return [f"{name} = tuple({docs})"]
        if self.container == "str_array":
            return [f"{name} = np.array({docs}, dtype=str)"]
        if self.container in _PANDAS_TEXT:
            dtype = "'string'" if self.container == "string_series" else "object"
            return ["import pandas as pd", f"{name} = pd.Series({docs}, dtype={dtype})"]
        return [f"{name} = np.array({docs}, dtype=object)"]

    def describe(self) -> str:
        lengths = [len(d) for d in self.docs]
        return (f"{self.container} of {len(self.docs)} document(s), {min(lengths)} to {max(lengths)} "
                "characters long")


def text_inputs(*, n_rows, containers_=None, max_words: int = 20, long_words: int = 0
                ) -> st.SearchStrategy[TextInput]:
    """:class:`TextInput` values: :func:`documents` in a drawn container (default every one of
    :func:`available_text_containers`: list, tuple, numpy ``str`` and object arrays, pandas
    ``Series`` of objects and of ``StringDtype``)."""
    allowed = available_text_containers()
    chosen = _check_choices("containers_", containers_ or allowed, TEXT_CONTAINERS)
    missing = [c for c in chosen if c not in allowed]
    if missing:
        raise InvalidArgument(f"containers_ {missing} need pandas, which is not installed")

    @st.composite
    def draw(draw_):
        return TextInput(draw_(documents(n_rows=n_rows, max_words=max_words, long_words=long_words)),
                         draw_(st.sampled_from(chosen)))

    return draw()
