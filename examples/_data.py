"""A small class-imbalanced binary data set shared by the boosting examples."""

import numpy as np


def imbalanced_data(n=2000, features=10, positive_rate=0.1, seed=0):
    """(X, y): Gaussian features, y = 1 for the top ``positive_rate`` of a
    noisy linear score."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, features))
    score = X[:, 0] + 0.5 * X[:, 1] - 0.25 * X[:, 2] + 0.5 * rng.standard_normal(n)
    y = (score > np.quantile(score, 1 - positive_rate)).astype(np.float64)
    return X, y
