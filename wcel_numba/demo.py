"""The main job: class-imbalanced logistic regression, trained by gradient
descent with ``reduce_loss_and_grad``, and the precision/recall trade that
``pos_weight`` exists for.

Data: scikit-learn's bundled handwritten digits (1,797 8x8 images, shipped
inside the package, no download), task "is it a 9?" -- about 10% positives.
For each pos_weight q the same model is trained from scratch; q > 1 buys
recall (fewer missed 9s) with precision (more false alarms), q < 1 the
reverse.

Run:  python -m wcel_numba demo [--pos-weights 0.5,1,3,10] [--plot FILE.png]
"""

import argparse
import sys
import time

import numpy as np

import wcel_numba


def load_digits_nine(test_fraction=0.3, seed=0):
    """(X_train, y_train, X_test, y_test): features in [0, 1], y = (digit == 9)."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise SystemExit("the demo needs scikit-learn for its bundled data set: "
                         "pip install 'wcel_numba[demo]'") from None
    digits = load_digits()
    X = digits.data.astype(np.float64) / 16.0
    y = (digits.target == 9).astype(np.float64)
    order = np.random.default_rng(seed).permutation(len(y))
    split = int(len(y) * (1 - test_fraction))
    train, test = order[:split], order[split:]
    return X[train], y[train], X[test], y[test]


def train_logistic_regression(X, y, pos_weight, steps=400, learning_rate=2.0):
    """Weights and bias minimizing the mean weighted cross-entropy by gradient
    descent; the loss and its gradient w.r.t. the logits come from one fused
    call per step."""
    weights = np.zeros(X.shape[1])
    bias = 0.0
    for __ in range(steps):
        logits = X @ weights + bias
        __, dlogits = wcel_numba.reduce_loss_and_grad(y, logits, pos_weight)
        weights -= learning_rate * (X.T @ dlogits)
        bias -= learning_rate * dlogits.sum()
    return weights, bias


def precision_recall_f1(y_true, y_pred):
    tp = float(np.sum((y_pred == 1) & (y_true == 1)))
    fp = float(np.sum((y_pred == 1) & (y_true == 0)))
    fn = float(np.sum((y_pred == 0) & (y_true == 1)))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def _progress(done, total, label, stream=sys.stderr, width=30):
    filled = int(width * done / total)
    stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {label:<16}")
    if done == total:
        stream.write("\n")
    stream.flush()


def run(pos_weights=(0.5, 1.0, 3.0, 10.0), steps=400, progress=True):
    """Train one model per pos_weight; returns a list of result dicts."""
    X_train, y_train, X_test, y_test = load_digits_nine()
    rows = []
    for k, q in enumerate(pos_weights):
        if progress:
            _progress(k, len(pos_weights), f"pos_weight={q:g}")
        weights, bias = train_logistic_regression(X_train, y_train, q, steps=steps)
        logits = X_test @ weights + bias
        predicted = (logits > 0).astype(np.float64)
        precision, recall, f1 = precision_recall_f1(y_test, predicted)
        rows.append(dict(pos_weight=q, precision=precision, recall=recall, f1=f1,
                         test_loss=float(wcel_numba.reduce_loss(y_test, logits, 1.0))))
    if progress:
        _progress(len(pos_weights), len(pos_weights), "done")
    return rows, float(y_train.mean())


def table(rows):
    lines = ["| pos_weight | precision | recall | F1 | test loss (q=1) |",
             "|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['pos_weight']:g} | {r['precision']:.3f} | {r['recall']:.3f} | "
                     f"{r['f1']:.3f} | {r['test_loss']:.4f} |")
    return "\n".join(lines)


def plot(rows, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise SystemExit("--plot needs matplotlib: pip install 'wcel_numba[plot]'") from None
    q = [r["pos_weight"] for r in rows]
    fig, ax = plt.subplots(figsize=(6, 4))
    for key in ("precision", "recall", "f1"):
        ax.plot(q, [r[key] for r in rows], marker="o", label=key)
    ax.set_xscale("log")
    ax.set_xlabel("pos_weight (log scale)")
    ax.set_ylim(0, 1.05)
    ax.set_title('digits: "is it a 9?" (~10% positives)')
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m wcel_numba demo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pos-weights", default="0.5,1,3,10",
                        help="comma-separated pos_weight values (default: 0.5,1,3,10)")
    parser.add_argument("--steps", type=int, default=400, help="gradient-descent steps")
    parser.add_argument("--plot", metavar="FILE.png", help="draw precision/recall vs pos_weight")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    rows, positives = run([float(v) for v in args.pos_weights.split(",")], steps=args.steps)
    print(f'digits, "is it a 9?": {positives:.1%} positives in the training set; '
          f"logistic regression, {args.steps} gradient-descent steps per pos_weight\n")
    print(table(rows))
    print(f"\n({time.perf_counter() - start:.1f} s)  pos_weight > 1 trades precision for "
          "recall; < 1 the reverse.")
    if args.plot:
        print("plot written to", plot(rows, args.plot))
    return 0
