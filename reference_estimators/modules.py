"""Torch modules the reference estimators use by default; module-level so they pickle.

A module class for :class:`~reference_estimators.TorchClassifier` or
:class:`~reference_estimators.TorchRegressor` takes the widths the estimator infers at ``fit``
as the keywords ``n_features_in`` and ``n_outputs``; every other keyword is a hyperparameter
the user sets as ``module__<name>``.
"""

from __future__ import annotations

import torch
from torch import nn

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU, "logistic": nn.Sigmoid}


class MLP(nn.Module):
    """Fully connected layers of ``hidden_sizes`` with ``activation`` (and optional dropout)."""

    def __init__(self, n_features_in: int, n_outputs: int, hidden_sizes=(100,), activation="relu",
                 dropout: float = 0.0):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation={activation!r}; expected one of {sorted(ACTIVATIONS)}")
        layers, width = [], n_features_in
        for size in hidden_sizes:
            layers += [nn.Linear(width, size), ACTIVATIONS[activation]()]
            if dropout:
                layers.append(nn.Dropout(dropout))
            width = size
        layers.append(nn.Linear(width, n_outputs))
        self.layers = nn.Sequential(*layers)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return self.layers(X)


class DemoEncoder(nn.Module):
    """A small "pretrained" encoder with fixed, seeded weights, for demos and the suite.

    It stands for a network trained elsewhere: its input width is fixed (``in_features``), and
    its weights depend only on ``seed``, never on torch's global RNG.
    """

    def __init__(self, in_features: int = 8, out_features: int = 4, hidden: int = 16, seed: int = 0):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(in_features, hidden), nn.Tanh(), nn.Linear(hidden, out_features))
        generator = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for parameter in self.net.parameters():
                parameter.copy_(torch.randn(parameter.shape, generator=generator) / parameter.shape[-1] ** 0.5)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return self.net(X)
