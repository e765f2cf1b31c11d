"""``PretrainedTextEncoder``: a pretrained sentence encoder as a scikit-learn transformer.

"A pretrained torch transformer in front of a classifier", literally::

    make_pipeline(PretrainedTextEncoder(), LogisticRegression()).fit(texts, labels)

The pattern:

- The input is raw documents: a 1-D list, tuple, numpy array or pandas Series of ``str``.
  ``documents`` refuses a bare string (iterating it would make one document per character),
  2-D input, and every element that is not a ``str`` (``None``, NaN, bytes, numbers), naming
  its position and type. The sklearn tags say the same: ``string``, ``one_d_array``, no
  ``two_d_array``.
- The tokenizer is the bytes: a document's UTF-8 bytes are its token ids (0-255), after one
  ``CLS`` id; ``PAD`` fills batches. Nothing is downloaded and nothing is fitted, so every
  string is encodable and ``fit`` learns no vocabulary. Documents longer than ``max_length``
  tokens are truncated.
- The network is a small ``nn.TransformerEncoder`` whose weights come from a file (the shipped
  ``weights/text-encoder.safetensors`` unless ``weights`` names another), read at ``fit``,
  never in ``__init__``. It is built inside ``fork_rng``: layers draw their initial weights
  from torch's global RNG, and the file overwrites those draws anyway.
- A document's embedding never depends on its batch-mates: padding is masked out of the
  attention (``src_key_padding_mask``) and out of the mean over tokens. That is what lets
  ``transform`` batch documents of similar length together (less padding) and still return
  each row as if its document had been encoded alone, in input order.
- ``transform`` runs in eval mode under ``inference_mode`` on ``device`` (moved there at the
  call, so ``set_params(device=...)`` works on a fitted estimator), and returns numpy on the
  CPU in the module's dtype (float32), as ``PretrainedTransformer`` does.
- The fitted module pickles as numpy arrays (``_torch.PortableModuleState``): loading needs
  neither the weights file nor CUDA.
"""

from __future__ import annotations

import numbers
from pathlib import Path

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted
from torch import nn
from torch.nn import functional as F

from reference_estimators import _torch

PAD, CLS = 256, 257  # the ids after the 256 byte values
SHIPPED_WEIGHTS = Path(__file__).parent / "weights" / "text-encoder.safetensors"


class ByteTransformer(nn.Module):
    """A pre-norm transformer over byte ids; ``forward`` maps ``(batch, length)`` ids to
    ``(batch, d_model)``, the mean of the final token states over each document's tokens."""

    def __init__(self, d_model=32, n_heads=2, n_layers=2, d_feedforward=64, n_positions=256):
        super().__init__()
        self.tokens = nn.Embedding(258, d_model)
        self.positions = nn.Embedding(n_positions, d_model)
        # silu, not relu or gelu: those two send inference down torch's fused "fast path",
        # whose masked attention on CPU at this size is slower than the composite path's
        # scaled_dot_product_attention: 1.6x on 100 short documents, 4x on 100 of 256 tokens.
        layer = nn.TransformerEncoderLayer(d_model, n_heads, d_feedforward, dropout=0.0,
                                           activation=F.silu, batch_first=True, norm_first=True)
        # enable_nested_tensor=False says what happens anyway: torch's nested-tensor path (it
        # drops the padding before the first layer) does not take pre-norm layers, and asking
        # for it warns. Post-norm layers with nested tensors were batch-invariant too (within
        # 5e-7, torch 2.13 CPU) but warn that nested tensors are a prototype API; length-sorted
        # batches skip most padding anyway. The masks in forward make the invariance, not this.
        self.encoder = nn.TransformerEncoder(layer, n_layers, norm=nn.LayerNorm(d_model),
                                             enable_nested_tensor=False)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        padding = ids == PAD
        x = self.tokens(ids) + self.positions.weight[:ids.shape[1]]
        x = self.encoder(x, src_key_padding_mask=padding)
        # masked_fill, not a multiplication: a padded position may hold anything, NaN included.
        x = x.masked_fill(padding.unsqueeze(-1), 0.0)
        return x.sum(dim=1) / (~padding).sum(dim=1, keepdim=True).to(x.dtype)


def documents(X) -> list[str]:
    """``X`` as a list of ``str``, or a ``ValueError`` that says what is wrong with it."""
    if isinstance(X, (str, bytes)):
        raise ValueError(f"X is a single {type(X).__name__}; pass a list of documents, e.g. [X] "
                         f"(iterating a string would make one document per character)")
    ndim = getattr(X, "ndim", 1)
    if ndim != 1:
        raise ValueError(f"X must be 1-D, one document per element; got {ndim}-D input of shape "
                         f"{getattr(X, 'shape', '?')} (for one text column of a DataFrame, pass df[column])")
    if not hasattr(X, "__len__") or isinstance(X, (dict, set, frozenset)):
        raise ValueError(f"X must be a list, tuple, array or Series of documents, got {type(X).__name__}")
    docs = X.tolist() if hasattr(X, "tolist") else list(X)  # numpy and pandas scalars -> Python
    for position, doc in enumerate(docs):
        if not isinstance(doc, str):
            raise ValueError(f"X[{position}] is {type(doc).__name__} {doc!r:.40}, not a str: every "
                             f"document must be a string (use '' for an empty one)")
    if not docs:
        raise ValueError("X holds no documents; at least one is required")
    return docs


def encode(doc: str, max_length: int) -> bytes:
    """The byte ids of ``doc`` that follow ``CLS``: its first ``max_length - 1`` UTF-8 bytes.

    The cut may fall inside a multi-byte character; a byte-level model reads that as it reads
    any prefix. ``surrogatepass`` encodes lone surrogates (from ``surrogateescape`` decoding)
    instead of raising on a valid ``str``.
    """
    return doc.encode("utf-8", "surrogatepass")[:max_length - 1]


def padded(encoded: list[bytes]) -> torch.Tensor:
    """``CLS`` + ids + ``PAD``s: one ``(len(encoded), 1 + longest)`` int64 batch."""
    batch = np.full((len(encoded), 1 + max(map(len, encoded))), PAD, dtype=np.int64)
    batch[:, 0] = CLS
    for row, ids in zip(batch, encoded):
        row[1:1 + len(ids)] = np.frombuffer(ids, dtype=np.uint8)
    return torch.from_numpy(batch)


class PretrainedTextEncoder(ClassNamePrefixFeaturesOutMixin, TransformerMixin, _torch.PortableModuleState,
                            BaseEstimator):
    """Embed raw documents with a pretrained byte-level transformer; ``fit`` trains nothing.

    Parameters
    ----------
    weights : str or path, default=None
        A ``.safetensors`` or ``torch.save(state_dict)`` file of a :class:`ByteTransformer`
        with its default sizes, loaded at ``fit``; ``None`` means the weights shipped with this
        package (seeded, made by ``scripts/make-text-encoder-weights``).
    max_length : int, default=256
        Tokens per document, ``CLS`` included: a document keeps its first ``max_length - 1``
        UTF-8 bytes and the rest is ignored. At most the encoder's 256 positions.
    batch_size : int, default=64
        Documents per inference batch (grouped by length, so little padding is computed).
    device : str, default="cpu"
        Where the module runs; ``transform`` always returns numpy on the CPU.
    """

    def __init__(self, weights=None, *, max_length=256, batch_size=64, device="cpu"):
        self.weights = weights
        self.max_length = max_length
        self.batch_size = batch_size
        self.device = device

    def __conformance_tags__(self):
        """The input contract: documents, not a numeric matrix."""
        return {"input_kind": "text"}

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.one_d_array = True
        tags.input_tags.two_d_array = False
        tags.transformer_tags.preserves_dtype = []  # float32 embeddings, whatever the input
        return tags

    def fit(self, X, y=None):
        """Validate ``X`` and load the encoder; no document changes the weights."""
        documents(X)
        device = _torch.resolve_device(self.device)
        with torch.random.fork_rng(devices=[]):
            module = ByteTransformer()
        _torch.load_into(module, SHIPPED_WEIGHTS if self.weights is None else self.weights)
        self._check_params(module)
        self.module_ = module.to(device).eval()
        self._module_build = (ByteTransformer, {})  # how to rebuild module_ when unpickled
        self.n_features_out_ = module.tokens.embedding_dim
        return self

    def transform(self, X):
        """One ``n_features_out_``-wide float32 row per document, in the order of ``X``."""
        check_is_fitted(self, "module_")
        docs = documents(X)
        self._check_params(self.module_)
        device, dtype = _torch.placed(self.module_, self.device)
        if self.module_.training:  # fit leaves module_ in eval mode; this guards against .train()
            self.module_.eval()
        encoded = [encode(doc, self.max_length) for doc in docs]
        order = torch.from_numpy(np.argsort([len(ids) for ids in encoded], kind="stable"))
        out = torch.empty((len(docs), self.n_features_out_), dtype=dtype)
        with torch.inference_mode():
            for rows in order.split(self.batch_size):
                batch = padded([encoded[i] for i in rows.tolist()]).to(device)
                out[rows] = self.module_(batch).cpu()
        return out.numpy()

    @property
    def _n_features_out(self):
        """Read by ``ClassNamePrefixFeaturesOutMixin.get_feature_names_out``."""
        return self.n_features_out_

    def _check_params(self, module: ByteTransformer) -> None:
        positions = module.positions.num_embeddings
        if not _is_int(self.max_length) or not 1 <= self.max_length <= positions:
            raise ValueError(f"max_length must be an int from 1 to the encoder's {positions} "
                             f"positions, got {self.max_length!r}")
        if not _is_int(self.batch_size) or self.batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {self.batch_size!r}")


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)
