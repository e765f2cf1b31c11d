"""The text defects of the zoo: a text twin of :mod:`tests.estimators.text`, one mistake each.

Each subclasses ``TinyTextEmbedder`` or ``TinyTextClassifier`` and overrides the smallest
method carrying one mistake that text wrappers make in the wild (sentence-encoder wrappers,
bag-of-embeddings classifiers, tokenizers written for a notebook). The docstring names the
mistake; ``aimed_at`` the checks meant to catch it. :mod:`tests.estimators.zoo` imports them
into ``DEFECTS``, so ``tests/test_zoo.py`` proves each is caught.
"""

from __future__ import annotations

import random

import numpy as np
import torch

from reference_estimators.text import documents
from tests.estimators.text import FIRST_WORD_ID, OOV, PAD, TOKEN, TinyTextClassifier, TinyTextEmbedder, normalise

BATCH = ("inputs.batch_invariance", "inputs.row_order_invariance")
GLOBAL_RNG = ("determinism.global_rng_untouched", "determinism.independent_of_global_seeds")


# --- padding, masks and truncation: a row depends on its batch-mates ----------------------------

class AttentionWithoutPaddingMask(TinyTextEmbedder):
    """Pads each batch to its longest document and runs the encoder without
    ``src_key_padding_mask`` (``model(input_ids)`` with the ``attention_mask`` forgotten): real
    tokens attend to the padding, so a document's embedding depends on its batch-mates."""

    aimed_at = BATCH

    def _forward_batch(self, batch):
        ids = self._padded(batch)
        states = self.module_.states(ids, None)
        return self.module_.head(self._pool(states, ids))


class UnmaskedMeanPooling(TinyTextClassifier):
    """Mean-pools with ``token_embeddings.mean(dim=1)`` instead of a mean weighted by the
    attention mask: the padding's zero vectors count, so a document's scores shrink with the
    length of the longest document in its batch."""

    aimed_at = BATCH

    def _pool(self, states, ids):
        return states.mean(dim=1)


class PadsWithUnknownId(TinyTextClassifier):
    """Pads with the unknown-word id (``pad_token = unk_token``, "the tokenizer has no pad
    token") while the mask is ``ids != pad_id``: padding is pooled as unknown words, more of
    them the longer a document's batch-mates."""

    aimed_at = BATCH

    def _padded(self, batch):
        ids = super()._padded(batch)
        return ids.masked_fill(ids == PAD, OOV)


class PercentileTruncation(TinyTextEmbedder):
    """Cuts every document of a batch at the batch's 90th-percentile length ("sequence
    bucketing", to save padding) instead of at ``max_length`` alone: a long document is cut
    short when its batch-mates are short, and kept whole when encoded alone."""

    aimed_at = ("inputs.batch_invariance",)

    def _batches(self, encoded):
        for rows, batch in super()._batches(encoded):
            cut = max(1, int(np.percentile([len(ids) for ids in batch], 90)))
            yield rows, [ids[:cut] for ids in batch]


class RefitsVocabularyAtPredict(TinyTextClassifier):
    """Rebuilds the vocabulary from the documents passed to ``predict`` (a Keras-style
    ``tokenizer.fit_on_texts(X)`` left in the inference path, ids past the embedding's
    ``num_words`` dropped): word ids, so the embedding rows looked up, depend on which
    documents share the call."""

    aimed_at = ("inputs.batch_invariance",)

    def _forward(self, X):
        rows = self.module_.tokens.num_embeddings
        vocabulary = self._build_vocabulary(self._words(self._documents(X)))
        self.vocabulary_ = {word: i for word, i in vocabulary.items() if i < rows}
        return super()._forward(X)


# --- input validation and containers ---------------------------------------------------------------

class IteratesSingleString(TinyTextEmbedder):
    """Starts with ``X = list(X)``: a single string passed by mistake becomes one document per
    character, and ``transform("some text")`` returns nine rows instead of an error."""

    aimed_at = ("inputs.invalid_input_errors",)

    def _documents(self, X):
        return documents(list(X))


class StrCoercesDocuments(TinyTextClassifier):
    """Converts each element with ``str()`` ("accept anything"): ``None`` becomes the
    document ``"None"``, NaN ``"nan"``, ``b"text"`` ``"b'text'"``, all encoded silently."""

    aimed_at = ("inputs.invalid_input_errors",)

    def _documents(self, X):
        if isinstance(X, str):
            return documents(X)  # the single-string refusal is kept: one mistake per defect
        return documents([str(doc) for doc in X])


class OnlyListsOrArrays(TinyTextEmbedder):
    """Accepts ``list`` (and converts numpy arrays to one) but raises ``TypeError`` for a
    tuple or a pandas ``Series``, the column users pass straight from a DataFrame."""

    aimed_at = ("inputs.valid_dtypes_and_layouts",)

    def _documents(self, X):
        if isinstance(X, np.ndarray):
            X = X.tolist()
        if not isinstance(X, list):
            raise TypeError(f"X must be a list of strings, got {type(X).__name__}")
        return documents(X)


class NormalisesCallerDocuments(TinyTextClassifier):
    """Lowercases and strips accents in the caller's list in place (``X[i] = X[i].lower()``
    in a loop, to "save memory"): the user's documents are changed after ``fit``."""

    aimed_at = ("inputs.input_not_mutated",)

    def _documents(self, X):
        if isinstance(X, (list, np.ndarray)):
            for i, doc in enumerate(X):
                if isinstance(doc, str):
                    X[i] = normalise(doc)
        return documents(X)


# --- outputs ------------------------------------------------------------------------------------

class ReturnsEmbeddingList(TinyTextEmbedder):
    """Returns a list of per-document vectors from ``transform`` (what a sentence encoder's
    ``encode(..., convert_to_numpy=False)`` gives) instead of one 2-D numpy array."""

    aimed_at = ("inputs.output_contract",)

    def transform(self, X):
        return list(super().transform(X))


class DropsEmptyDocuments(TinyTextEmbedder):
    """Filters out empty documents before encoding (``[d for d in X if d.strip()]``, "the
    tokenizer chokes on empty strings"): the output has fewer rows than the input."""

    aimed_at = ("inputs.output_contract", "inputs.batch_invariance")

    def _documents(self, X):
        return [doc for doc in super()._documents(X) if doc.strip()]


# --- determinism: tokenizers that draw from global or per-process state ------------------------------

class ShuffledVocabulary(TinyTextClassifier):
    """Shuffles the vocabulary with ``random.shuffle`` before numbering it ("so frequent
    words do not get the low ids"): Python's global RNG decides which embedding row each word
    gets, and the caller's ``random`` state advances."""

    aimed_at = GLOBAL_RNG

    def _build_vocabulary(self, words):
        vocabulary = sorted({w for doc in words for w in doc})
        random.shuffle(vocabulary)
        return {word: FIRST_WORD_ID + i for i, word in enumerate(vocabulary)}


class RandpermVocabulary(TinyTextClassifier):
    """Numbers the vocabulary with ``torch.randperm(len(vocab))`` and no ``generator``:
    torch's global RNG decides the word ids, and the caller's torch RNG advances."""

    aimed_at = GLOBAL_RNG

    def _build_vocabulary(self, words):
        vocabulary = sorted({w for doc in words for w in doc})
        order = torch.randperm(len(vocabulary)).tolist()
        return {vocabulary[j]: FIRST_WORD_ID + i for i, j in enumerate(order)}


class VocabularyFromSetOrder(TinyTextClassifier):
    """Numbers the vocabulary in ``set`` iteration order (``{w: i for i, w in
    enumerate(set(tokens))}``): string hashing is salted per process (PYTHONHASHSEED), so the
    same data and seed give other word ids, and another model, in every new process."""

    aimed_at = ("determinism.fresh_process_same_fit",)

    def _build_vocabulary(self, words):
        return {word: FIRST_WORD_ID + i for i, word in enumerate({w for doc in words for w in doc})}


class BuiltinHashTokens(TinyTextEmbedder):
    """Hashes words into buckets with Python's ``hash(word)`` (the hashing trick done by
    hand): salted per process, so a pickled embedder loaded elsewhere, or refitted in another
    process, maps every word to another embedding row."""

    aimed_at = ("persistence.fresh_process_load", "determinism.fresh_process_same_fit")

    def _token_ids(self, words):
        return [FIRST_WORD_ID + hash(word) % self.n_buckets for word in words]


# --- persistence ----------------------------------------------------------------------------------

class TokenCacheOnEstimator(TinyTextClassifier):
    """Memoises tokenisation in a dict on the estimator (``self.cache_[doc] = ids``, "documents
    repeat"): every document seen is kept, so the pickle grows with the training set and
    carries the training texts with it."""

    aimed_at = ("persistence.pickle_size_independent_of_n_samples",)

    def _encode(self, docs):
        cache = self.__dict__.setdefault("cache_", {})
        missing = [doc for doc in docs if doc not in cache]
        cache.update(zip(missing, super()._encode(missing)))
        return [cache[doc] for doc in docs]


class LambdaTokenizer(TinyTextClassifier):
    """Keeps the tokenizer as a lambda on the fitted estimator (``self.tokenizer_ = lambda
    doc: ...``, as in notebook examples): pickle and joblib cannot save it."""

    aimed_at = ("persistence.pickle_roundtrip", "persistence.joblib_roundtrip")

    def fit(self, X, y):
        self.tokenizer_ = lambda doc: TOKEN.findall(normalise(doc))
        return super().fit(X, y)

    def _words(self, docs):
        return [self.tokenizer_(doc) for doc in docs]
