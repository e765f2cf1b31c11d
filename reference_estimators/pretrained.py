"""``PretrainedTransformer``: an already-trained ``nn.Module`` as a scikit-learn transformer.

The pattern:

- ``__init__`` stores ``module`` (an instance, or a class built with ``module__<name>``) and
  ``weights`` (a path) and nothing else: no file is read, nothing is moved to a device.
- ``fit`` validates ``X``, records ``n_features_in_``/``feature_names_in_``, builds a private
  copy of the module, loads the weights safely (``torch.load(weights_only=True)`` or
  safetensors), checks that the module takes ``X``'s width (a ``ValueError`` otherwise, never a
  torch ``RuntimeError``), and records the output width for ``get_feature_names_out``.
- ``transform`` validates ``X`` (``_torch.validated``, as the trainers' predictions do) and runs
  batched inference in eval mode under ``torch.inference_mode()``, numpy out.
- The fitted estimator holds the weights in ``module_``, so it pickles without the file.
- The fixed input width is declared to the conformance suite in ``__conformance_tags__``,
  computed from the parameters when asked (never in ``__init__``).
"""

from __future__ import annotations

import inspect

import numpy as np
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from reference_estimators import _torch
from reference_estimators._params import NestedParamsMixin


class PretrainedTransformer(ClassNamePrefixFeaturesOutMixin, TransformerMixin, _torch.PortableModuleState,
                            NestedParamsMixin, BaseEstimator):
    """Transform features with a pretrained torch module; ``fit`` trains nothing.

    Parameters
    ----------
    module : torch.nn.Module instance or class
        The network. An instance is copied at ``fit`` (yours is never moved or put in eval
        mode); a class is built as ``module(**module_params)``.
    weights : str or path, default=None
        A ``torch.save(module.state_dict())`` file or a ``.safetensors`` file, loaded into the
        module at ``fit``. ``None`` keeps the instance's own weights.
    module_params : dict, default=None
        Keywords for building a module class; each is also the parameter ``module__<name>``.
    batch_size : int, default=4096
        Rows per inference batch.
    device : str, default="cpu"
        Where the module runs; ``transform`` always returns numpy on the CPU.
    """

    _nested_reserved = {}

    def __init__(self, module=None, *, weights=None, module_params=None,
                 batch_size=_torch.INFERENCE_BATCH_SIZE, device="cpu"):
        self.module = module
        self.weights = weights
        self.module_params = module_params
        self.batch_size = batch_size
        self.device = device

    def __conformance_tags__(self):
        """The input contract: the module's first layer fixes the number of features."""
        try:
            return {"input_width": _torch.input_width_of(self._template())}
        except Exception:  # noqa: BLE001 - an unbuildable module has no contract to declare
            return {"input_width": None}

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = []  # output is in the module's dtype, not X's
        return tags

    def fit(self, X, y=None):
        """Validate ``X``, load the module and its weights, check the module takes ``X``."""
        X = validate_data(self, X, dtype=_torch.FLOATS)
        if not isinstance(self.batch_size, (int, np.integer)) or self.batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {self.batch_size!r}")
        device = _torch.resolve_device(self.device)
        module = self._load().to(device).eval()
        width = _torch.input_width_of(module)
        if width is not None and X.shape[1] != width:
            raise ValueError(f"X has {X.shape[1]} features, but the module's first layer takes "
                             f"{width}: a pretrained module fixes its input width")
        out = _torch.call_checked(module, X[:1], device)
        if out.ndim != 2:
            raise ValueError(f"the module returns {out.ndim}-D output; a transformer needs 2-D "
                             f"(n_samples, n_features_out)")
        self.module_ = module
        # How to rebuild module_ when unpickled: the class again, or (None) a copy of the instance.
        self._module_build = (self.module, self._nested("module")) if inspect.isclass(self.module) else (None, {})
        self.n_features_out_ = int(out.shape[1])
        return self

    def transform(self, X):
        """The module's output for each row of ``X``, as a numpy array on the CPU."""
        check_is_fitted(self, "module_")  # n_features_in_ alone may be left by a failed fit
        X = _torch.validated(self, X)
        return _torch.infer(self.module_, X, self.device, self.batch_size)

    @property
    def _n_features_out(self):
        """Read by ``ClassNamePrefixFeaturesOutMixin.get_feature_names_out``."""
        return self.n_features_out_

    def _template(self):
        """The module as given (an instance, not copied) or built from its class."""
        import torch

        if isinstance(self.module, torch.nn.Module):
            if self.module_params:
                raise ValueError("module_params only apply when module is a class")
            return self.module
        if inspect.isclass(self.module) and issubclass(self.module, torch.nn.Module):
            return _torch.build(self.module, self._nested("module"), "module")
        raise ValueError(f"module must be a torch.nn.Module instance or class, got {self.module!r}")

    def _load(self):
        """A private copy of the module with the weights loaded: the fitted ``module_``."""
        module = self._template()
        if module is self.module:
            module = _torch.copy_module(module)  # fit must never move or re-mode the user's module
        if self.weights is not None:
            _torch.load_into(module, self.weights)
        return module
