"""wcel_numba's grad and hessian as a LightGBM custom objective.

With hard labels and a scalar pos_weight q this is LightGBM's built-in
``binary`` objective with ``scale_pos_weight=q`` (and ``boost_from_average``
off, since a custom objective starts from a margin of 0).

Run:  python examples/lightgbm_objective.py
"""

import lightgbm as lgb
import numpy as np
from _data import imbalanced_data  # examples/_data.py

import wcel_numba


def weighted_logistic_objective(pos_weight):
    """A LightGBM objective: (gradient, hessian) with respect to raw scores."""
    def objective(scores, dataset):
        labels = dataset.get_label()
        return (wcel_numba.grad(labels, scores, pos_weight),
                wcel_numba.hessian(labels, scores, pos_weight))
    return objective


PARAMS = {"num_leaves": 8, "learning_rate": 0.3, "min_data_in_leaf": 5, "seed": 0,
          "deterministic": True, "num_threads": 1, "verbose": -1}


def train_both(X, y, pos_weight, rounds=20):
    """(raw scores from the custom objective, raw scores from the built-in one)."""
    custom = lgb.train({**PARAMS, "objective": weighted_logistic_objective(pos_weight)},
                       lgb.Dataset(X, label=y), rounds)
    builtin = lgb.train({**PARAMS, "objective": "binary", "scale_pos_weight": pos_weight,
                         "boost_from_average": False}, lgb.Dataset(X, label=y), rounds)
    return custom.predict(X, raw_score=True), builtin.predict(X, raw_score=True)


if __name__ == "__main__":
    X, y = imbalanced_data()
    for q in (1.0, 9.0):
        custom, builtin = train_both(X, y, q)
        print(f"pos_weight={q:g}: max |custom - built-in score| = "
              f"{np.abs(custom - builtin).max():.2e}; recall {np.mean(custom[y == 1] > 0):.3f}")
