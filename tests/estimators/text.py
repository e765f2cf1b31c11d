"""Small, correct torch text estimators: the text twins of the defect zoo, and a text pipeline.

Both take raw documents (a 1-D list, tuple, numpy array or pandas Series of ``str``), say so in
their sklearn tags, and follow one recipe, split into small methods so that each text defect
(:mod:`tests.estimators.text_defects`) overrides exactly the piece that carries its mistake:

- ``_documents`` validates ``X`` (:func:`reference_estimators.text.documents`: a bare string,
  2-D input and non-``str`` elements are refused with a ``ValueError`` naming them);
- ``_words`` normalises each document (lowercase, accents stripped) into a new list of tokens;
- ``_token_ids`` maps tokens to ids: hashed with CRC-32 (the embedder) or looked up in a
  vocabulary built in ``fit`` (the classifier); ids 0, 1 and 2 are ``PAD``, ``CLS``, ``OOV``;
- ``_batches`` cuts the documents, in input order, into ``batch_size`` batches, ``_padded``
  pads each to its longest document and ``_pool`` averages over the real tokens only (the mask
  is ``ids != PAD``), so a document's row never depends on its batch-mates.

Weights are drawn under ``torch.random.fork_rng`` from a seed of ``random_state``, training
shuffles with a ``torch.Generator`` of that seed, and outputs come back as numpy on the CPU.
"""

from __future__ import annotations

import re
import unicodedata
import zlib

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted
from torch import nn
from torch.nn import functional as F

from reference_estimators.text import PretrainedTextEncoder, documents

PAD, CLS, OOV = 0, 1, 2
FIRST_WORD_ID = 3
TOKEN = re.compile(r"\w+|[^\w\s]")  # a word, or one punctuation mark or symbol


def normalise(doc: str) -> str:
    """``doc`` lowercased, accents stripped (``"Café"`` -> ``"cafe"``)."""
    decomposed = unicodedata.normalize("NFKD", doc.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def stable_hash(token: str) -> int:
    """CRC-32 of the token's UTF-8 bytes: the same in every process (unlike ``hash``)."""
    return zlib.crc32(token.encode("utf-8", "surrogatepass"))


class TextEncoder(nn.Module):
    """Token and position embeddings, an optional self-attention layer, a linear head.

    ``forward`` takes ``(batch, length)`` ids and the ``(batch, length)`` mask of real tokens;
    a subclass of the estimator pools the token states (``pool``) between encoder and head.
    """

    def __init__(self, n_tokens: int, dim: int, n_positions: int, n_out: int, attention: bool):
        super().__init__()
        self.tokens = nn.Embedding(n_tokens, dim, padding_idx=PAD)
        self.positions = nn.Embedding(n_positions, dim)
        self.attention = nn.TransformerEncoderLayer(dim, 2, 2 * dim, dropout=0.0, activation=F.silu,
                                                    batch_first=True, norm_first=True) if attention else None
        self.head = nn.Linear(dim, n_out)

    def states(self, ids: torch.Tensor, padding: torch.Tensor | None) -> torch.Tensor:
        """Per-token states; ``padding`` (True at padded positions) is hidden from attention."""
        x = self.tokens(ids) + self.positions.weight[:ids.shape[1]]
        if self.attention is not None:
            x = self.attention(x, src_key_padding_mask=padding)
        return x


class _TinyTextBase(BaseEstimator):
    """The shared recipe: validate, normalise, tokenise, batch in input order, mask, pool, head."""

    attention = False

    def __conformance_tags__(self):
        return {"input_kind": "text"}

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.one_d_array = True
        tags.input_tags.two_d_array = False
        return tags

    def _seed(self) -> int:
        return int(check_random_state(self.random_state).randint(0, 2**31 - 1))

    def _documents(self, X) -> list[str]:
        return documents(X)

    def _words(self, docs: list[str]) -> list[list[str]]:
        return [TOKEN.findall(normalise(doc)) for doc in docs]

    def _encode(self, docs: list[str]) -> list[list[int]]:
        """``CLS`` then the ids of each document's first ``max_length - 1`` tokens."""
        return [[CLS, *self._token_ids(words)][:self.max_length] for words in self._words(docs)]

    def _batches(self, encoded: list[list[int]]):
        """Row indices and id lists of consecutive ``batch_size`` batches, in input order."""
        for start in range(0, len(encoded), self.batch_size):
            rows = list(range(start, min(start + self.batch_size, len(encoded))))
            yield rows, [encoded[i] for i in rows]

    def _padded(self, batch: list[list[int]]) -> torch.Tensor:
        """One ``(len(batch), longest)`` int64 tensor, ``PAD`` after each document's ids."""
        ids = torch.full((len(batch), max(map(len, batch))), PAD, dtype=torch.long)
        for row, doc_ids in enumerate(batch):
            ids[row, :len(doc_ids)] = torch.tensor(doc_ids, dtype=torch.long)
        return ids

    def _pool(self, states: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        """The mean of each document's token states over its real (non-``PAD``) tokens."""
        real = (ids != PAD).unsqueeze(-1)
        return states.masked_fill(~real, 0.0).sum(dim=1) / real.sum(dim=1).to(states.dtype)

    def _forward_batch(self, batch: list[list[int]]) -> torch.Tensor:
        ids = self._padded(batch)
        states = self.module_.states(ids, ids == PAD)
        return self.module_.head(self._pool(states, ids))

    def _forward(self, X) -> torch.Tensor:
        """The head's output for every document of ``X``, one row each, in input order."""
        check_is_fitted(self, "module_")
        encoded = self._encode(self._documents(X))
        out = torch.empty((len(encoded), self.module_.head.out_features))
        self.module_.eval()
        with torch.inference_mode():
            for rows, batch in self._batches(encoded):
                out[rows] = self._forward_batch(batch)
        return out

    def _new_module(self, n_tokens: int, n_out: int) -> TextEncoder:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self._seed())
            return TextEncoder(n_tokens, self.dim, self.max_length, n_out, self.attention)

    def _check_params(self) -> None:
        for name in ("dim", "max_length", "batch_size"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")


class TinyTextEmbedder(ClassNamePrefixFeaturesOutMixin, TransformerMixin, _TinyTextBase):
    """Embed documents with a seeded hashing encoder: words hashed (CRC-32) into
    ``n_buckets`` ids, one self-attention layer, masked mean pooling, a linear map.

    ``fit`` trains nothing: it validates the documents and draws the weights from
    ``random_state`` (a stand-in for a pretrained checkpoint), so every string is encodable.
    """

    attention = True

    def __init__(self, n_buckets=256, dim=16, max_length=32, batch_size=4, random_state=0):
        self.n_buckets = n_buckets
        self.dim = dim
        self.max_length = max_length
        self.batch_size = batch_size
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = []  # float32 embeddings, whatever the input
        return tags

    def _token_ids(self, words: list[str]) -> list[int]:
        return [FIRST_WORD_ID + stable_hash(word) % self.n_buckets for word in words]

    def fit(self, X, y=None):
        """Validate ``X`` and draw the encoder's weights from ``random_state``."""
        self._check_params()
        self._documents(X)
        self.module_ = self._new_module(FIRST_WORD_ID + self.n_buckets, self.dim).eval()
        self.n_features_out_ = self.dim
        return self

    def transform(self, X):
        """One float32 row of ``dim`` features per document, in the order of ``X``."""
        return self._forward(X).numpy()

    @property
    def _n_features_out(self):
        return self.n_features_out_


class TinyTextClassifier(ClassifierMixin, _TinyTextBase):
    """Classify documents with a bag of learned word embeddings: a vocabulary of the words
    seen in ``fit`` (sorted, so ids do not depend on set or hash order), masked mean pooling,
    a linear layer trained with Adam on shuffled mini-batches."""

    def __init__(self, dim=16, max_length=32, lr=0.05, max_epochs=10, batch_size=4, random_state=0):
        self.dim = dim
        self.max_length = max_length
        self.lr = lr
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.random_state = random_state

    def _build_vocabulary(self, words: list[list[str]]) -> dict[str, int]:
        """Each distinct training word, sorted, to an id from ``FIRST_WORD_ID`` on."""
        return {word: FIRST_WORD_ID + i for i, word in enumerate(sorted({w for doc in words for w in doc}))}

    def _token_ids(self, words: list[str]) -> list[int]:
        return [self.vocabulary_.get(word, OOV) for word in words]

    def fit(self, X, y):
        """Learn the vocabulary of ``X``, then train the network on ``(X, y)``."""
        self._check_params()
        docs = self._documents(X)
        y = np.asarray(y)
        if y.ndim != 1 or len(y) != len(docs):
            raise ValueError(f"y must be 1-D with one label per document: got shape {y.shape} for "
                             f"{len(docs)} documents")
        check_classification_targets(y)
        self.classes_, encoded_y = np.unique(y, return_inverse=True)
        self.vocabulary_ = self._build_vocabulary(self._words(docs))
        self.module_ = self._new_module(FIRST_WORD_ID + len(self.vocabulary_), len(self.classes_))
        self._train(self._encode(docs), torch.as_tensor(encoded_y, dtype=torch.long))
        return self

    def _train(self, encoded: list[list[int]], target: torch.Tensor) -> None:
        generator = torch.Generator().manual_seed(self._seed())
        optimizer = torch.optim.Adam(self.module_.parameters(), lr=self.lr)
        self.module_.train()
        for _ in range(self.max_epochs):
            for rows in torch.randperm(len(encoded), generator=generator).split(self.batch_size):
                optimizer.zero_grad()
                logits = self._forward_batch([encoded[i] for i in rows.tolist()])
                F.cross_entropy(logits, target[rows]).backward()
                optimizer.step()
        self.module_.eval()

    def predict_proba(self, X):
        """Class probabilities, one float64 row per document, columns in ``classes_`` order."""
        return torch.softmax(self._forward(X).double(), dim=1).numpy()

    def predict(self, X):
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


TEXT_TWINS = (TinyTextEmbedder, TinyTextClassifier)


def text_pipeline():
    """The reference text encoder in front of a classifier: the plugin's text target."""
    return make_pipeline(PretrainedTextEncoder(), LogisticRegression())
