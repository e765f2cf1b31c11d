"""Small, seeded datasets shaped to an estimator's kind, input kind and input contract.

Every check of this suite that needs "ordinary" data takes it from here, so the data honours the
estimator's declared ``input_width`` and input kind (numeric 2-D arrays, or text) and the
profile's size, and two checks asking for the same data get the same arrays.

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


def dataset_for(estimator, n_samples: int = 80, seed: int = 0, n_classes: int = 3) -> Dataset:
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


def make_dataset(traits, n_samples: int, seed: int = 0, n_classes: int = 3) -> Dataset:
    """The ordinary dataset for ``traits``: text when its input kind is text, else numeric."""
    if getattr(traits, "input_kind", "tabular") == "text":
        return make_text_dataset(traits, n_samples, seed, n_classes)
    return make_numeric_dataset(traits, n_samples, seed, n_classes)


def documents(n_samples: int, seed: int = 0, n_classes: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """``(docs, labels)``: ``n_samples`` documents as a 1-D object array, and the class of each.

    Class ``k``'s documents hold words of ``CLASS_WORDS[k]``; the first few rows are the hard
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
    return np.array(docs, dtype=object), labels


def lengthened(docs, factor: int) -> np.ndarray:
    """Each document ``factor`` times as long: its words repeated (public: reproductions call it)."""
    return np.array([" ".join([str(doc)] * factor).strip() for doc in docs], dtype=object)


def make_text_dataset(traits, n_samples: int, seed: int = 0, n_classes: int = 3) -> Dataset:
    """Text documents; classes from their words, or a regression target counting class-0 words."""
    docs, labels = documents(n_samples, seed, n_classes)
    if traits.is_classifier:
        return Dataset(docs, labels)
    own = set(CLASS_WORDS[0])
    y = np.array([sum(word in own for word in doc.split()) / (1 + len(doc.split())) for doc in docs])
    if _requires_2d_target(traits):
        y = np.column_stack([y, -y])
    return Dataset(docs, y)


def make_numeric_dataset(traits, n_samples: int, seed: int = 0, n_classes: int = 3) -> Dataset:
    """A float64 dataset for ``traits``: labelled classes, a regression target, or features only.

    Classifiers get ``n_classes`` well-separated integer classes, regressors a smooth target of
    unit scale (2-D when sklearn's tags say multi-output only), transformers a regression target
    they may ignore.
    """
    rng = np.random.default_rng(seed)
    n_features = traits.n_features
    if traits.is_classifier:
        centers = rng.normal(scale=3.0, size=(n_classes, n_features))
        y = np.arange(n_samples) % n_classes
        rng.shuffle(y)
        X = centers[y] + rng.normal(size=(n_samples, n_features))
        return Dataset(X, y)
    X = rng.normal(size=(n_samples, n_features))
    coef = rng.normal(size=n_features)
    y = np.tanh(X @ coef / np.sqrt(n_features)) + 0.05 * rng.normal(size=n_samples)
    if _requires_2d_target(traits):
        y = np.column_stack([y, -y])
    return Dataset(X, y)


def _requires_2d_target(traits) -> bool:
    target_tags = getattr(traits.sklearn_tags, "target_tags", None)
    return bool(target_tags is not None and getattr(target_tags, "multi_output", False)
                and getattr(target_tags, "single_output", True) is False)
