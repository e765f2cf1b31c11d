"""skorch's ``NeuralNetClassifier`` on a small module, as a target for the suite (a test extra).

Run with ``--estimator tests.estimators.skorch_targets:skorch_classifier``. skorch passes X to
the module as it gets it; the suite's data is float64, so ``SmallModule`` casts to float32 in
``forward`` (``strict_skorch_classifier`` does not, and fails wherever float64 reaches it).
"""

from __future__ import annotations

import torch
from skorch import NeuralNetClassifier


class SmallModule(torch.nn.Module):
    """4 inputs, 3 classes; returns probabilities, as NeuralNetClassifier's NLLLoss expects."""

    def __init__(self, n_features=4, n_hidden=16, n_classes=3):
        super().__init__()
        self.layers = torch.nn.Sequential(torch.nn.Linear(n_features, n_hidden), torch.nn.Tanh(),
                                          torch.nn.Linear(n_hidden, n_classes))

    def forward(self, X):
        return torch.softmax(self.layers(X.to(torch.float32)), dim=-1)


class Float32OnlyModule(SmallModule):
    """The same network without the cast: float64 input meets float32 weights."""

    def forward(self, X):
        return torch.softmax(self.layers(X), dim=-1)


def skorch_classifier():
    # module__ and optimizer__ given explicitly, so the nested names are among the parameters.
    return NeuralNetClassifier(SmallModule, max_epochs=3, train_split=None, verbose=0,
                               module__n_hidden=16, optimizer__momentum=0.9)


def strict_skorch_classifier():
    return NeuralNetClassifier(Float32OnlyModule, max_epochs=3, train_split=None, verbose=0)
