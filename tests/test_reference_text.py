"""``PretrainedTextEncoder`` keeps the promises its docs make, one behaviour per test.

The conformance suite cannot generate documents yet, so nothing here runs it on this estimator.
"""

from __future__ import annotations

import fnmatch
import importlib.machinery
import importlib.util
import json
import pickle
import random
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline

from reference_estimators import PretrainedTextEncoder, default_estimators
from reference_estimators import _safetensors
from reference_estimators.text import SHIPPED_WEIGHTS, ByteTransformer

pytestmark = pytest.mark.usefixtures("one_torch_thread")

ROOT = Path(__file__).resolve().parent.parent
# float32 rounding: a document's embedding alone and in a padded batch agree to ~5e-7.
CLOSE = {"rtol": 1e-5, "atol": 2e-6}


def corpus(n=64, seed=0):
    """Documents of 0 to 300 bytes, ASCII and not, so batches need plenty of padding."""
    rng = np.random.default_rng(seed)
    words = ["the", "cat", "sat", "on", "a", "mat", "café", "naïve", "日本語", "🙂", "x"]
    docs = [" ".join(rng.choice(words, size=rng.integers(0, 60))) for _ in range(n - 2)]
    return ["", "a" * 300, *docs]


@pytest.fixture(scope="module")
def encoder():
    return PretrainedTextEncoder().fit(["fit needs a document"])


def alone(encoder, docs):
    return np.vstack([encoder.transform([doc]) for doc in docs])


# -- outputs -------------------------------------------------------------------------------------

def test_transform_gives_one_float32_row_per_document(encoder):
    out = encoder.transform(corpus())
    assert out.shape == (64, 32) and out.dtype == np.float32
    assert isinstance(out, np.ndarray) and np.isfinite(out).all()
    assert len(np.unique(out.round(4), axis=0)) == len(set(corpus()))  # distinct texts, distinct rows
    assert list(encoder.get_feature_names_out()) == [f"pretrainedtextencoder{i}" for i in range(32)]


def test_fit_trains_nothing_and_fit_transform_agrees(encoder):
    docs = corpus()
    refit = PretrainedTextEncoder().fit(docs, y=np.arange(64))
    np.testing.assert_array_equal(refit.transform(docs), encoder.transform(docs))
    np.testing.assert_array_equal(PretrainedTextEncoder().fit_transform(docs), encoder.transform(docs))


@pytest.mark.parametrize("batch_size", [1, 7, 64])
def test_embedding_does_not_depend_on_batch_size_or_batch_mates(encoder, batch_size):
    docs = corpus()
    batched = clone(encoder).set_params(batch_size=batch_size).fit(docs).transform(docs)
    np.testing.assert_allclose(batched, alone(encoder, docs), **CLOSE)


def test_the_batch_invariance_tolerance_catches_unmasked_padding(encoder, monkeypatch):
    """Proof the test above has teeth: attention over the padding moves embeddings far more."""
    docs = corpus()
    expected = alone(encoder, docs)
    layer_forward = torch.nn.TransformerEncoderLayer.forward
    monkeypatch.setattr(torch.nn.TransformerEncoderLayer, "forward",
                        lambda self, src, src_mask=None, src_key_padding_mask=None, is_causal=False:
                        layer_forward(self, src))
    with pytest.raises(AssertionError):
        np.testing.assert_allclose(encoder.transform(docs), expected, **CLOSE)


def test_row_order_changes_only_the_order_of_rows(encoder):
    docs = corpus()
    order = np.random.default_rng(1).permutation(len(docs))
    shuffled = encoder.transform([docs[i] for i in order])
    np.testing.assert_allclose(shuffled, encoder.transform(docs)[order], **CLOSE)


def test_fit_and_transform_warn_about_nothing():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # torch's nested-tensor notices included
        PretrainedTextEncoder().fit(corpus()).transform(corpus())


def test_transform_is_bitwise_repeatable(encoder):
    docs = corpus()
    np.testing.assert_array_equal(encoder.transform(docs), encoder.transform(docs))


# -- documents -----------------------------------------------------------------------------------

def test_an_empty_string_is_a_document_encoded_as_cls_alone(encoder):
    empty = encoder.transform([""])
    assert np.isfinite(empty).all()
    only_cls = clone(encoder).set_params(max_length=1).fit([""])
    np.testing.assert_array_equal(only_cls.transform(["any text at all"]), empty)


def test_unicode_documents_encode_by_their_utf8_bytes(encoder):
    docs = ["café", "cafe", "日本語", "🙂", "\ud800 lone surrogate", "tab\tnul\x00"]
    out = encoder.transform(docs)
    assert np.isfinite(out).all() and len(np.unique(out.round(4), axis=0)) == len(docs)


def test_documents_are_truncated_to_max_length_tokens(encoder):
    long = "".join(chr(ord("a") + i % 26) for i in range(1000))
    np.testing.assert_array_equal(encoder.transform([long]), encoder.transform([long[:255]]))
    assert not np.array_equal(encoder.transform([long[:255]]), encoder.transform([long[:254]]))
    short = clone(encoder).set_params(max_length=10).fit([""]).transform(["abcdefghi", "abcdefghiXYZ"])
    np.testing.assert_array_equal(short[0], short[1])  # CLS and 9 bytes: the same tokens
    bytes_not_characters = clone(encoder).set_params(max_length=4).fit([""])
    np.testing.assert_array_equal(bytes_not_characters.transform(["日本語"]), encoder.transform(["日"]))


def containers():
    pd = pytest.importorskip("pandas")
    docs = ["one", "two words", ""]
    return {"list": docs, "tuple": tuple(docs), "numpy str": np.array(docs),
            "numpy object": np.array(docs, dtype=object), "Series": pd.Series(docs, index=[7, 3, 5]),
            "Series string dtype": pd.Series(docs, dtype="string")}


@pytest.mark.parametrize("kind", ["list", "tuple", "numpy str", "numpy object", "Series",
                                  "Series string dtype"])
def test_every_1d_container_of_str_gives_the_same_rows(encoder, kind):
    X = containers()[kind]
    np.testing.assert_array_equal(PretrainedTextEncoder().fit(X).transform(X),
                                  encoder.transform(["one", "two words", ""]))


def invalid_inputs():
    pd = pytest.importorskip("pandas")
    return {
        "bare str": ("just one text", "single str; pass a list"),
        "bare bytes": (b"bytes", "single bytes"),
        "2-D array": (np.array([["a", "b"], ["c", "d"]]), r"1-D.*shape \(2, 2\)"),
        "DataFrame": (pd.DataFrame({"text": ["a", "b"]}), r"1-D.*df\[column\]"),
        "nested list": (["a", ["b", "c"]], r"X\[1\] is list"),
        "None": (["a", "b", None], r"X\[2\] is NoneType None, not a str"),
        "NaN": (["a", float("nan")], r"X\[1\] is float nan"),
        "pandas NA": (pd.Series(["a", None], dtype="string"), r"X\[1\] is NAType"),
        "bytes element": (["a", b"b"], r"X\[1\] is bytes b'b'"),
        "number": ([3, "a"], r"X\[0\] is int 3"),
        "numeric array": (np.arange(3.0), r"X\[0\] is float 0.0"),
        "empty": ([], "no documents"),
        "generator": ((doc for doc in ["a"]), "list, tuple, array or Series"),
    }


@pytest.mark.parametrize("kind", ["bare str", "bare bytes", "2-D array", "DataFrame", "nested list",
                                  "None", "NaN", "pandas NA", "bytes element", "number",
                                  "numeric array", "empty", "generator"])
def test_invalid_input_is_a_value_error_that_names_the_problem(encoder, kind):
    X, message = invalid_inputs()[kind]
    with pytest.raises(ValueError, match=message):
        PretrainedTextEncoder().fit(X)
    with pytest.raises(ValueError, match=message):
        encoder.transform(X)


def test_tags_declare_text_input(encoder):
    tags = encoder.__sklearn_tags__()
    assert tags.input_tags.string and tags.input_tags.one_d_array and not tags.input_tags.two_d_array
    assert tags.transformer_tags.preserves_dtype == []
    assert PretrainedTextEncoder().__conformance_tags__() == {"input_kind": "text"}


# -- parameters ----------------------------------------------------------------------------------

def test_parameters_are_stored_as_given_and_clone_is_unfitted(encoder):
    assert encoder.get_params() == {"weights": None, "max_length": 256, "batch_size": 64, "device": "cpu"}
    copy = clone(encoder).set_params(max_length=100, weights="w.pt")
    assert copy.get_params()["max_length"] == 100 and copy.weights == "w.pt"
    assert not hasattr(clone(encoder), "module_")


def test_max_length_set_on_a_fitted_encoder_applies_at_the_next_call():
    model = PretrainedTextEncoder().fit(["x"])
    before = model.transform(["abcdef"])
    np.testing.assert_array_equal(model.set_params(max_length=3).transform(["abcdef"]),
                                  model.transform(["ab"]))
    assert not np.array_equal(model.transform(["abcdef"]), before)


@pytest.mark.parametrize("params", [{"max_length": 0}, {"max_length": 257}, {"max_length": 2.5},
                                    {"max_length": True}, {"batch_size": 0}, {"batch_size": None},
                                    {"device": "no-such-device"}])
def test_bad_parameters_raise_value_error_at_fit_not_init(params):
    model = PretrainedTextEncoder(**params)  # must not raise
    with pytest.raises(ValueError):
        model.fit(["a"])


def test_cuda_without_cuda_is_a_value_error_and_a_fitted_model_moves_at_the_next_call(encoder):
    if torch.cuda.is_available():
        model = clone(encoder).fit(["a"]).set_params(device="cuda")
        np.testing.assert_allclose(model.transform(corpus()), encoder.transform(corpus()), **CLOSE)
        assert next(model.module_.parameters()).is_cuda
        return
    with pytest.raises(ValueError, match="CUDA is not available"):
        PretrainedTextEncoder(device="cuda").fit(["a"])
    model = clone(encoder).fit(["a"]).set_params(device="cuda")
    with pytest.raises(ValueError, match="CUDA is not available"):
        model.transform(["a"])


def test_is_one_of_the_default_estimators_checked_as_text():
    from conformance.traits import estimator_traits

    (encoder,) = [e for e in default_estimators() if isinstance(e, PretrainedTextEncoder)]
    assert estimator_traits(encoder).input_kind == "text"


# -- randomness, pickles, pipelines --------------------------------------------------------------

def test_fit_and_transform_leave_global_rngs_untouched_and_ignore_them():
    torch.manual_seed(123)
    np.random.seed(123)
    random.seed(123)
    before = (torch.get_rng_state(), np.random.get_state()[1].copy(), random.getstate())
    first = PretrainedTextEncoder().fit(corpus()).transform(corpus())
    assert torch.equal(torch.get_rng_state(), before[0])
    np.testing.assert_array_equal(np.random.get_state()[1], before[1])
    assert random.getstate() == before[2]
    torch.manual_seed(7)
    np.testing.assert_array_equal(PretrainedTextEncoder().fit(["a"]).transform(corpus()), first)


def test_pickle_round_trip_is_bitwise_and_needs_no_weights_file(tmp_path):
    path = tmp_path / "mine.pt"
    torch.save(scaled_weights(0.5), path)
    fitted = PretrainedTextEncoder(weights=str(path)).fit(["a"])
    expected = fitted.transform(corpus())
    state = fitted.__getstate__()
    assert "module_" not in state and all(isinstance(v, np.ndarray) for v in state["_module_weights"].values())
    path.unlink()
    torch.manual_seed(5)
    rng_before = torch.get_rng_state()
    restored = pickle.loads(pickle.dumps(fitted))
    assert torch.equal(torch.get_rng_state(), rng_before)
    np.testing.assert_array_equal(restored.transform(corpus()), expected)


def test_an_unfitted_encoder_pickles():
    restored = pickle.loads(pickle.dumps(PretrainedTextEncoder(max_length=9)))
    assert restored.max_length == 9 and not hasattr(restored, "module_")


def labelled_documents(n=300, seed=0):
    """Labels that depend on one word among random filler: the encoder must see the words."""
    rng = np.random.default_rng(seed)
    filler = "the a of to and in is it that was for on with as at by this from".split()
    y = rng.integers(0, 2, size=n)
    docs = []
    for label in y:
        words = list(rng.choice(filler, size=rng.integers(4, 12)))
        words.insert(rng.integers(0, len(words) + 1), "excellent" if label else "terrible")
        docs.append(" ".join(words))
    return docs, y


def test_pipeline_with_logistic_regression_learns_word_dependent_labels():
    docs, y = labelled_documents()
    train_docs, test_docs, y_train, y_test = train_test_split(docs, y, random_state=0, stratify=y)
    pipeline = make_pipeline(PretrainedTextEncoder(), LogisticRegression())
    accuracy = pipeline.fit(train_docs, y_train).score(test_docs, y_test)
    assert accuracy > 0.75  # chance is 0.5; measured 0.9 and more


# -- weights -------------------------------------------------------------------------------------

def scaled_weights(factor):
    return {name: tensor * factor for name, tensor in _safetensors.load(SHIPPED_WEIGHTS).items()}


def test_shipped_weights_are_small_and_are_what_the_script_makes():
    assert SHIPPED_WEIGHTS.stat().st_size < 300_000
    loader = importlib.machinery.SourceFileLoader("make_weights", str(ROOT / "scripts/make-text-encoder-weights"))
    spec = importlib.util.spec_from_loader("make_weights", loader)
    script = importlib.util.module_from_spec(spec)
    loader.exec_module(script)
    made, shipped = script.seeded_state(0), _safetensors.load(SHIPPED_WEIGHTS)
    assert sorted(made) == sorted(shipped)
    assert all(torch.equal(made[name], shipped[name]) for name in made)
    with torch.random.fork_rng(devices=[]):
        ByteTransformer().load_state_dict(shipped)  # strict: every parameter, nothing else


def test_the_weights_file_is_package_data_in_pyproject():
    tomllib = pytest.importorskip("tomllib")
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    shipped = SHIPPED_WEIGHTS.relative_to(ROOT / "reference_estimators").as_posix()
    assert any(fnmatch.fnmatch(shipped, pattern) for pattern in package_data["reference_estimators"])


def test_the_reader_agrees_with_the_safetensors_package(tmp_path):
    safetensors = pytest.importorskip("safetensors.torch")
    tensors = {"f32": torch.randn(3, 4), "f16": torch.randn(5).half(), "bf16": torch.randn(2, 2).bfloat16(),
               "f64": torch.randn(1, 2, 3).double(), "i64": torch.arange(7), "u8": torch.arange(4, dtype=torch.uint8),
               "bool": torch.tensor([True, False, True]), "scalar": torch.tensor(2.5), "empty": torch.zeros(0, 3)}
    path = tmp_path / "many.safetensors"
    safetensors.save_file(tensors, str(path), metadata={"note": "x"})
    for file in (path, SHIPPED_WEIGHTS):
        ours, theirs = _safetensors.load(file), safetensors.load_file(str(file))
        assert sorted(ours) == sorted(theirs)
        for name, tensor in theirs.items():
            assert ours[name].dtype == tensor.dtype and torch.equal(ours[name], tensor), name


@pytest.mark.parametrize("suffix", [".pt", ".safetensors"])
def test_users_own_weights_file_is_loaded(tmp_path, encoder, suffix):
    path = tmp_path / f"mine{suffix}"
    if suffix == ".pt":
        torch.save(scaled_weights(0.5), path)
    else:
        pytest.importorskip("safetensors.torch").save_file(scaled_weights(0.5), str(path))
    out = PretrainedTextEncoder(weights=path).fit(["a"]).transform(corpus())
    assert out.shape == (64, 32) and not np.allclose(out, encoder.transform(corpus()), atol=1e-3)


def test_weights_of_another_network_are_a_value_error(tmp_path):
    path = tmp_path / "other.pt"
    torch.save({"layer.weight": torch.zeros(3, 3)}, path)
    with pytest.raises(ValueError, match="do not fit ByteTransformer"):
        PretrainedTextEncoder(weights=path).fit(["a"])


def test_a_missing_weights_file_fails_at_fit_not_init():
    model = PretrainedTextEncoder(weights="/no/such/weights.safetensors")  # must not raise
    with pytest.raises(FileNotFoundError):
        model.fit(["a"])


def header_and_data():
    raw = SHIPPED_WEIGHTS.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    return json.loads(raw[8:8 + n]), raw[8 + n:]


def rewritten(header, data):
    text = (header if isinstance(header, str) else json.dumps(header)).encode()
    return len(text).to_bytes(8, "little") + text + data


def corruptions():
    raw = SHIPPED_WEIGHTS.read_bytes()
    header, data = header_and_data()
    first = sorted(name for name in header if name != "__metadata__")[0]
    entry = header[first]

    def edited(**changes):
        return rewritten({**header, first: {**entry, **changes}}, data)

    f32 = {"dtype": "F32", "shape": [1]}
    return {
        "truncated data": (raw[:-100], "truncated"),
        "truncated header": (raw[:50], "header length says"),
        "too short": (raw[:5], "fewer than the 8"),
        "empty": (b"", "fewer than the 8"),
        "not utf-8": (raw[:8] + b"\xff" * (len(raw) - 8), "not UTF-8 JSON"),
        "json list": (rewritten([1, 2], data), "not an object"),
        "trailing bytes": (raw + b"\x00" * 4, "padded"),
        "unknown dtype": (edited(dtype="F128"), "dtype 'F128'"),
        "bad shape": (edited(shape=[-1]), "not a list of non-negative ints"),
        "wrong size": (edited(shape=[1]), "needs 4 bytes"),
        "bad offsets": (edited(data_offsets=[10]), r"not \[begin, end\]"),
        "missing key": (rewritten({**header, first: {"dtype": "F32"}}, data), "needs exactly"),
        "bad metadata": (rewritten({**header, "__metadata__": {"seed": 0}}, data), "__metadata__"),
        "duplicate key": (rewritten(f'{{"{first}": {json.dumps(entry)}, ' + json.dumps(header)[1:], data),
                          "more than once"),
        "overlap": (rewritten({"a": {**f32, "data_offsets": [0, 4]}, "b": {**f32, "data_offsets": [0, 4]}},
                              bytes(4)), "starts at byte 0, expected 4"),
        "gap": (rewritten({"a": {**f32, "data_offsets": [0, 4]}, "b": {**f32, "data_offsets": [8, 12]}},
                          bytes(12)), "starts at byte 8, expected 4"),
    }


@pytest.mark.parametrize("kind", ["truncated data", "truncated header", "too short", "empty", "not utf-8",
                                  "json list", "trailing bytes", "unknown dtype", "bad shape", "wrong size",
                                  "bad offsets", "missing key", "bad metadata", "duplicate key", "overlap",
                                  "gap"])
def test_a_corrupted_weights_file_is_a_clear_value_error(tmp_path, kind):
    content, message = corruptions()[kind]
    path = tmp_path / "broken.safetensors"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="is not a valid safetensors file") as raised:
        PretrainedTextEncoder(weights=path).fit(["a"])
    assert raised.match(message)
