"""Small, seeded datasets shaped to an estimator's kind, input kind and input contract.

Every check of this suite that needs "ordinary" data takes it from here, so the data honours the
estimator's declared ``input_width`` and input kind (numeric 2-D arrays, or text) and the
profile's size, and two checks asking for the same data get the same arrays.

The values coincide with nothing an estimator might assume (docs/writing-checks.md,
"Coincidences"): labels are not ``0..k-1`` but :data:`CLASS_VALUES`, features and targets are
not standardised (each column has its own offset and scale), and the profiles' row counts are
primes, so no batch size divides them.

Text is a 1-D numpy object array of documents built from a small vocabulary: each class has
words of its own, so labels depend on the words; documents vary in length, and among them are
the empty string, non-ASCII words (accents, CJK, an emoji), one document longer than a typical
``max_length``, and a duplicate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Dataset:
    X: np.ndarray
    y: np.ndarray | None

    def fit_args(self):
        return (self.X,) if self.y is None else (self.X, self.y)

    @property
    def xy(self):
        """``(X, y)``, ``y`` being ``None`` for an estimator fitted without a target."""
        return self.X, self.y


def dataset_for(estimator, n_samples: int = 83, seed: int = 0, n_classes: int = 3) -> Dataset:
    """The suite's ordinary data for ``estimator``: what a check fitted it on, rebuilt anywhere.

    Public: the reproduction snippets printed under failures call it.
    """
    from conformance.traits import estimator_traits

    return make_dataset(estimator_traits(estimator), n_samples, seed, n_classes)


# Words that mark each class (labels depend on them), and words every class uses.
CLASS_WORDS = (
    ("apple", "banana", "cherry", "mango", "pear", "plum", "grape", "lemon"),
    ("river", "mountain", "forest", "valley", "ocean", "desert", "glacier", "meadow"),
    ("engine", "wheel", "brake", "piston", "gear", "clutch", "axle", "bolt"),
    ("violin", "cello", "flute", "drum", "harp", "oboe", "tuba", "lute"),
    ("comet", "planet", "nebula", "quasar", "orbit", "galaxy", "meteor", "pulsar"),
)
COMMON_WORDS = ("the", "a", "of", "and", "with", "near", "very", "naïve", "café", "über", "日本語", "数据",
                "🙂", "x", "it's", "co-op")
LONG_DOCUMENT_WORDS = 160  # longer than a 256-token or 512-byte max_length
# The class labels of the ordinary data, in order: not 0..k-1, so an estimator that predicts
# class indices for labels, or indexes arrays by label, is wrong on it.
CLASS_VALUES = (-1, 2, 7, 11, 20)
# Each feature column is offset and scaled (and a regression target too), so an estimator whose
# scaler is missing, wrongly applied or not inverted answers differently than a correct one.
FEATURE_OFFSETS = (-5.0, 3.0, 40.0, -0.5)
FEATURE_SCALES = (0.2, 4.0, 15.0, 1.0)
TARGET_OFFSET, TARGET_SCALE = 3.0, 2.0


def make_dataset(traits, n_samples: int, seed: int = 0, n_classes: int = 3) -> Dataset:
    """The ordinary dataset for ``traits``: text when its input kind is text, else numeric."""
    if getattr(traits, "input_kind", "tabular") == "text":
        return make_text_dataset(traits, n_samples, seed, n_classes)
    return make_numeric_dataset(traits, n_samples, seed, n_classes)


def class_values(n_classes: int) -> np.ndarray:
    """The ``n_classes`` labels of the ordinary data: the first of :data:`CLASS_VALUES`."""
    if not 1 <= n_classes <= len(CLASS_VALUES):
        raise ValueError(f"n_classes={n_classes!r}: the ordinary data has 1 to {len(CLASS_VALUES)} classes")
    return np.array(CLASS_VALUES[:n_classes])


def documents(n_samples: int, seed: int = 0, n_classes: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """``(docs, labels)``: ``n_samples`` documents as a 1-D object array, and the class of each.

    The ``k``-th class (label ``CLASS_VALUES[k]``) has documents holding words of ``CLASS_WORDS[k]``; the first few rows are the hard
    cases: an empty document, a very long one, non-ASCII words, and a duplicate of row 1.
    """
    rng = np.random.default_rng(seed)
    labels = np.arange(n_samples) % n_classes
    rng.shuffle(labels)
    docs = []
    for i, label in enumerate(labels):
        own = CLASS_WORDS[label % len(CLASS_WORDS)]
        n_words = LONG_DOCUMENT_WORDS if i == 1 else int(rng.integers(2, 14))
        words = [own[rng.integers(len(own))] if rng.random() < 0.6 else COMMON_WORDS[rng.integers(len(COMMON_WORDS))]
                 for _ in range(n_words)]
        words[0] = own[rng.integers(len(own))]  # every labelled document names its class at least once
        docs.append(" ".join(words))
    if n_samples > 0:
        docs[0] = ""
    if n_samples > 3:
        docs[3], labels[3] = docs[2], labels[2]  # a duplicate, with the same label
    return np.array(docs, dtype=object), class_values(n_classes)[labels]


def lengthened(docs, factor: int) -> np.ndarray:
    """Each document ``factor`` times as long: its words repeated (public: reproductions call it)."""
    return np.array([" ".join([str(doc)] * factor).strip() for doc in docs], dtype=object)


def make_text_dataset(traits, n_samples: int, seed: int = 0, n_classes: int = 3) -> Dataset:
    """Text documents; classes from their words, or a regression target counting class-0 words."""
    docs, labels = documents(n_samples, seed, n_classes)
    if traits.is_classifier:
        return Dataset(docs, labels)
    own = set(CLASS_WORDS[0])
    share = np.array([sum(word in own for word in doc.split()) / (1 + len(doc.split())) for doc in docs])
    y = TARGET_OFFSET + TARGET_SCALE * share
    if _requires_2d_target(traits):
        y = np.column_stack([y, -y])
    return Dataset(docs, y)


def make_numeric_dataset(traits, n_samples: int, seed: int = 0, n_classes: int = 3) -> Dataset:
    """A float64 dataset for ``traits``: labelled classes, a regression target, or features only.

    Classifiers get ``n_classes`` well-separated classes labelled :data:`CLASS_VALUES`,
    regressors a smooth target offset by ``TARGET_OFFSET`` and scaled by ``TARGET_SCALE`` (2-D
    when sklearn's tags say multi-output only), transformers a regression target they may
    ignore. Every feature column has its own offset and scale (:func:`unstandardised`).
    """
    rng = np.random.default_rng(seed)
    n_features = traits.n_features
    if traits.is_classifier:
        centers = rng.normal(scale=3.0, size=(n_classes, n_features))
        codes = np.arange(n_samples) % n_classes
        rng.shuffle(codes)
        X = centers[codes] + rng.normal(size=(n_samples, n_features))
        return Dataset(unstandardised(X), class_values(n_classes)[codes])
    X = rng.normal(size=(n_samples, n_features))
    coef = rng.normal(size=n_features)
    signal = np.tanh(X @ coef / np.sqrt(n_features)) + 0.05 * rng.normal(size=n_samples)
    X, y = unstandardised(X), TARGET_OFFSET + TARGET_SCALE * signal
    if _requires_2d_target(traits):
        y = np.column_stack([y, -y])
    return Dataset(X, y)


def unstandardised(X: np.ndarray) -> np.ndarray:
    """``X`` with column ``j`` scaled by ``FEATURE_SCALES[j % 4]`` and offset by ``FEATURE_OFFSETS[j % 4]``."""
    columns = np.arange(X.shape[1]) % len(FEATURE_SCALES)
    return X * np.take(FEATURE_SCALES, columns) + np.take(FEATURE_OFFSETS, columns)


def _requires_2d_target(traits) -> bool:
    target_tags = getattr(traits.sklearn_tags, "target_tags", None)
    return bool(target_tags is not None and getattr(target_tags, "multi_output", False)
                and getattr(target_tags, "single_output", True) is False)
