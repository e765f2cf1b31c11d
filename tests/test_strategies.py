"""The strategies generate what their docstrings say, and reject bad arguments by name."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import find, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from conformance import strategies as cs

FEW = settings(max_examples=30, deadline=None, derandomize=True, database=None)


@FEW
@given(cs.feature_inputs(n_rows=(1, 9), n_features=(1, 5)))
def test_feature_inputs_have_the_drawn_shape_dtype_and_finite_values(case):
    assert 1 <= case.shape[0] <= 9 and 1 <= case.shape[1] <= 5
    assert case.dtype in cs.X_DTYPES
    assert case.array.flags.c_contiguous
    if case.dtype.kind == "f":
        assert np.all(np.isfinite(case.array))


@FEW
@given(cs.feature_inputs(n_rows=(2, 6), n_features=(2, 4)))
def test_built_input_has_the_drawn_layout_and_container(case):
    value = case.build()
    if case.container in ("list", "tuple"):
        assert isinstance(value, list if case.container == "list" else tuple) and len(value) == case.shape[0]
        return
    if case.container in ("dataframe", "nullable_dataframe"):
        assert isinstance(value, pd.DataFrame) and list(value.columns) == case.columns()
        nullable = all(isinstance(dtype, pd.api.extensions.ExtensionDtype) for dtype in value.dtypes)
        assert nullable == (case.container == "nullable_dataframe")
        return
    assert isinstance(value, np.ndarray) and np.array_equal(value, case.array)
    assert isinstance(value, np.memmap) == (case.layout == "memmap")
    assert value.dtype.isnative == (case.layout != "byteswapped" or value.dtype.itemsize == 1)
    assert (min(value.strides) < 0) == (case.layout in ("reversed_rows", "reversed_columns") and min(value.shape) > 1)
    flags = value.flags
    expected = {"C": (True, True), "F": (case.shape[1] == 1 or case.shape[0] == 1, True),
                "strided": (False, True), "readonly": (True, False), "memmap": (True, False),
                "byteswapped": (True, True), "reversed_rows": (case.shape[0] == 1, True),
                "reversed_columns": (case.shape[1] == 1, True)}[case.layout]
    assert (flags.c_contiguous, flags.writeable) == expected


def test_every_layout_and_container_is_drawn():
    seen = set()

    @settings(max_examples=300, deadline=None, derandomize=True, database=None)
    @given(cs.feature_inputs(n_rows=(2, 3), n_features=(2, 3)))
    def collect(case):
        seen.add((case.layout, case.container))

    collect()
    assert {layout for layout, _ in seen} == set(cs.LAYOUTS)
    assert {container for _, container in seen} == set(cs.CONTAINERS)


@FEW
@given(cs.degenerate_inputs(n_rows=(3, 6), n_features=(1, 4)))
def test_degenerate_inputs_are_what_their_note_says(case):
    X, kind = case.array, next(k for k, note in cs.DEGENERACIES.items() if note == case.note)
    assert X.dtype == (np.float32 if kind.startswith("float32") else np.float64)
    column = X[:, 0]
    checks = {"constant_column": lambda: np.all(column == 7.5), "zero_column": lambda: np.all(column == 0),
              "duplicated_column": lambda: np.array_equal(X[:, 1], column), "identical_rows": lambda: np.all(X == X[0]),
              "tiny_column": lambda: 0 < np.abs(column).max() <= 1e-8,
              "huge_column": lambda: 1e6 < np.abs(column).max() <= 1e8,
              "float32_huge": lambda: np.isfinite(X).all() and 1e35 < np.abs(X).max() <= 1e37,
              "float32_subnormal": lambda: np.abs(X).max() < np.finfo(np.float32).smallest_normal}
    assert checks[kind]()


@FEW
@given(cs.classification_targets(n_samples=12, classes=np.array([-1, 2, 7]), singleton=True))
def test_singleton_targets_have_one_class_with_exactly_one_sample(y):
    values, counts = np.unique(y, return_counts=True)
    assert values.tolist() == [-1, 2, 7] and counts[-1] == 1 and counts[:-1].min() >= 2


@FEW
@given(cs.feature_inputs(n_rows=(1, 4), n_features=(1, 3)))
def test_code_rebuilds_exactly_the_built_input(case):
    namespace = {"np": np}
    exec("\n".join(case.code("X")), namespace)
    rebuilt, built = namespace["X"], case.build()
    if case.container in ("dataframe", "nullable_dataframe"):
        assert rebuilt.equals(built) and list(rebuilt.dtypes) == list(built.dtypes)
    elif case.container in ("list", "tuple"):
        assert rebuilt == built
    else:
        assert rebuilt.dtype == built.dtype and np.array_equal(rebuilt, built)
        assert rebuilt.strides == built.strides and type(rebuilt) is type(built)
        assert rebuilt.flags.c_contiguous == built.flags.c_contiguous
        assert rebuilt.flags.writeable == built.flags.writeable


@FEW
@given(cs.feature_matrices(n_rows=5, n_features=2, magnitude="offset"))
def test_offset_magnitude_puts_the_information_below_float32_resolution(X):
    assert X.dtype == np.float64 and np.all(np.abs(X - 1e8) <= 1)
    assert len(np.unique(X.astype(np.float32))) < len(np.unique(X))


@FEW
@given(cs.feature_matrices(n_rows=4, n_features=3, dtype="int8", positive=True))
def test_positive_integer_matrices_are_non_negative(X):
    assert X.dtype == np.int8 and X.min() >= 0


@FEW
@given(cs.class_labels(n_classes=(2, 4)))
def test_class_labels_are_distinct_and_sorted_like_np_unique(classes):
    assert 2 <= len(classes) <= 4
    assert np.array_equal(np.unique(classes), classes)


@FEW
@given(cs.classification_targets(n_samples=20, classes=cs.class_labels(n_classes=(2, 5)), min_per_class=2))
def test_every_class_occurs_at_least_min_per_class_times(y):
    assert y.shape == (20,)
    _, counts = np.unique(y, return_counts=True)
    assert counts.min() >= 2 and len(counts) >= 2


def test_noncontiguous_labels_include_gaps_and_negatives():
    values = cs.class_labels(n_classes=5, kinds=("noncontiguous",))
    assert find(values, lambda v: v.min() < 0, settings=FEW).min() < 0
    assert np.any(np.diff(find(values, lambda v: np.any(np.diff(v) > 1), settings=FEW)) > 1)


@FEW
@given(cs.regression_targets(n_samples=7, n_outputs=(1, 3)))
def test_regression_targets_are_1d_for_one_output_and_2d_otherwise(y):
    assert y.shape[0] == 7 and np.all(np.isfinite(y))
    assert y.ndim == 1 or y.shape[1] in (2, 3)


@pytest.mark.parametrize("call, name", [
    (lambda: cs.feature_matrices(n_rows=0, n_features=2), "n_rows"),
    (lambda: cs.feature_matrices(n_rows=2, n_features=(3, 1)), "n_features"),
    (lambda: cs.feature_matrices(n_rows=2, n_features=2, dtype="complex128"), "dtype"),
    (lambda: cs.feature_matrices(n_rows=2, n_features=2, dtype="float16", magnitude="offset"), "magnitude"),
    (lambda: cs.layouts(allowed=("C", "diagonal")), "allowed"),
    (lambda: cs.x_dtypes(dtypes=()), "dtypes"),
    (lambda: cs.class_labels(n_classes=1), "n_classes"),
    (lambda: cs.class_labels(kinds=("bool",), n_classes=3), "kinds"),
    (lambda: cs.classification_targets(n_samples=1, classes=[0, 1]), "n_samples"),
    (lambda: cs.regression_targets(n_samples=3, dtype="int64"), "dtype"),
])
def test_bad_arguments_raise_invalid_argument_naming_the_argument(call, name):
    with pytest.raises(InvalidArgument, match=name):
        call()


def test_array_literal_round_trips_every_dtype():
    for dtype in cs.X_DTYPES:
        array = np.arange(6).reshape(2, 3).astype(dtype)
        rebuilt = eval(cs.array_literal(array), {"np": np})
        assert rebuilt.dtype == array.dtype and np.array_equal(rebuilt, array)
    labels = np.array(["c1", "c-3"])
    assert np.array_equal(eval(cs.array_literal(labels), {"np": np}), labels)


@FEW
@given(st.data())
def test_containers_default_to_those_installed(data):
    assert data.draw(cs.containers()) in cs.available_containers()
