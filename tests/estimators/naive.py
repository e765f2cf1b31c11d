"""The naive torch classifier of the tutorials: no validation, a float32 cast, labels as indices."""

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin


class NaiveTorchClassifier(ClassifierMixin, BaseEstimator):
    def __init__(self, epochs=20, lr=0.05):
        self.epochs = epochs
        self.lr = lr

    def fit(self, X, y):
        X_tensor = torch.from_numpy(X).float()
        y_tensor = torch.from_numpy(y).long()
        self.model = torch.nn.Linear(X_tensor.shape[1], int(y_tensor.max()) + 1)
        optimizer = torch.optim.Adam(self.model.parameters(), lr=self.lr)
        for _ in range(self.epochs):
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(self.model(X_tensor), y_tensor)
            loss.backward()
            optimizer.step()
        return self

    def predict(self, X):
        with torch.no_grad():
            return self.model(torch.from_numpy(X).float()).argmax(1).numpy()
