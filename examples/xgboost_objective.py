"""wcel_numba's grad and hessian as an XGBoost custom objective.

With hard labels and a scalar pos_weight q this is XGBoost's built-in
``binary:logistic`` with ``scale_pos_weight=q``; the custom objective also
takes soft labels, a per-sample pos_weight, and keeps the exact limits.

Run:  python examples/xgboost_objective.py
"""

import numpy as np
import xgboost as xgb
from _data import imbalanced_data  # noqa: F401 -- examples/_data.py

import wcel_numba


def weighted_logistic_objective(pos_weight):
    """An XGBoost objective: (gradient, hessian) of the weighted cross-entropy
    with respect to the raw margins."""
    def objective(margins, dtrain):
        labels = dtrain.get_label()
        return (wcel_numba.grad(labels, margins, pos_weight),
                wcel_numba.hessian(labels, margins, pos_weight))
    return objective


PARAMS = {"max_depth": 3, "eta": 0.3, "tree_method": "hist", "seed": 0, "nthread": 1}


def train_both(X, y, pos_weight, rounds=20):
    """(margins from the custom objective, margins from the built-in one)."""
    dtrain = xgb.DMatrix(X, label=y)
    custom = xgb.train({**PARAMS, "base_score": 0.0}, dtrain, rounds,
                       obj=weighted_logistic_objective(pos_weight))
    builtin = xgb.train({**PARAMS, "objective": "binary:logistic", "base_score": 0.5,
                         "scale_pos_weight": pos_weight}, dtrain, rounds)
    return (custom.predict(dtrain, output_margin=True),
            builtin.predict(dtrain, output_margin=True))


if __name__ == "__main__":
    X, y = imbalanced_data()
    for q in (1.0, 9.0):
        custom, builtin = train_both(X, y, q)
        recall = np.mean(custom[y == 1] > 0)
        precision = np.mean(y[custom > 0] == 1)
        print(f"pos_weight={q:g}: max |custom - built-in margin| = "
              f"{np.abs(custom - builtin).max():.2e}; precision {precision:.3f}, "
              f"recall {recall:.3f}")
