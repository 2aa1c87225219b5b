"""Class-imbalanced logistic regression with pos_weight, on a real data set.

scikit-learn's bundled digits, task "is it a 9?" (about 10% positives):
plain NumPy gradient descent, with the loss and its gradient from one fused
call per step (``wcel_numba.reduce_loss_and_grad``).  Prints precision and
recall for several pos_weight values -- the trade pos_weight exists for.
This is what ``python -m wcel_numba demo`` runs.

Run:  python examples/logistic_regression_digits.py [--steps 400]
"""

import argparse

import numpy as np

import wcel_numba
from wcel_numba.demo import load_digits_nine, precision_recall_f1


def train(X, y, pos_weight, steps, learning_rate=2.0):
    weights, bias = np.zeros(X.shape[1]), 0.0
    for __ in range(steps):
        logits = X @ weights + bias
        loss, dlogits = wcel_numba.reduce_loss_and_grad(y, logits, pos_weight)  # mean loss
        weights -= learning_rate * (X.T @ dlogits)
        bias -= learning_rate * dlogits.sum()
    return weights, bias, loss


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=400)
    args = parser.parse_args()
    X_train, y_train, X_test, y_test = load_digits_nine()
    print(f"{y_train.mean():.1%} positives; {args.steps} steps")
    for q in (0.5, 1.0, 3.0, 10.0):
        weights, bias, loss = train(X_train, y_train, q, args.steps)
        p, r, f1 = precision_recall_f1(y_test, (X_test @ weights + bias > 0) * 1.0)
        print(f"pos_weight={q:>4g}: training loss {loss:.4f}  precision {p:.3f}  "
              f"recall {r:.3f}  F1 {f1:.3f}")
