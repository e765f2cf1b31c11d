"""Reference estimators: the torch patterns of this suite, correct, fast, and written to be copied.

- :class:`TorchClassifier`, :class:`TorchRegressor`: a user's ``nn.Module`` class trained in
  ``fit``, its hyperparameters tunable as ``module__<name>``, with an integrated scaler
  (``scaler=None`` means a fresh ``StandardScaler``; ``"passthrough"`` turns it off).
- :class:`PretrainedTransformer`: an already-trained module (or weights file) as a transformer.
- :class:`PretrainedTextEncoder`: a pretrained byte-level transformer that embeds raw documents.

``default_estimators()`` is what the suite checks when no ``--estimator`` is given. See
``docs/reference-estimators.md`` for the design decisions a copier must keep.
"""

from reference_estimators.modules import MLP, DemoEncoder
from reference_estimators.pretrained import PretrainedTransformer
from reference_estimators.text import PretrainedTextEncoder
from reference_estimators.trainers import TorchClassifier, TorchRegressor

__all__ = ["TorchClassifier", "TorchRegressor", "PretrainedTransformer", "PretrainedTextEncoder", "MLP",
           "DemoEncoder", "default_estimators"]


def default_estimators() -> list:
    """One instance of every reference estimator, with settings fast enough for the suite."""
    return [
        TorchClassifier(),
        TorchRegressor(),
        PretrainedTransformer(module=DemoEncoder),  # a class: skops can store it, unlike an instance
        PretrainedTextEncoder(),
    ]
