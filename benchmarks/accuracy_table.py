"""Max error in ULPs against a 50-digit mpmath reference: wcel_numba beside
TensorFlow's formula (transcribed to NumPy), and TensorFlow and PyTorch
themselves when installed.

Run:  python benchmarks/accuracy_table.py        (prints a markdown table)
Grid: tests/reference.py (logits from the smallest subnormal to the overflow
edge, both signs, and 0; labels 0, 1, 0.3, 0.75; pos_weight 0 ... 1000).
"""

import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
import reference  # noqa: E402
# the CUDA float32 kernels' float-float arithmetic, compiled for the CPU
from test_floatfloat import ufunc as float_float  # noqa: E402

import wcel_numba  # noqa: E402


def tf_formula(z, x, q):
    with np.errstate(all="ignore"):
        return (1 - z) * x + (1 + (q - 1) * z) * (np.log1p(np.exp(-np.abs(x)))
                                                  + np.maximum(-x, 0))


def torch_loss_and_grad(z, x, q):
    import torch
    xt = torch.from_numpy(x.copy()).requires_grad_(True)
    out = torch.nn.functional.binary_cross_entropy_with_logits(
        xt, torch.from_numpy(z), pos_weight=torch.from_numpy(q), reduction="none")
    out.sum().backward()
    return out.detach().numpy(), xt.grad.numpy()


def tf_loss_and_grad(z, x, q):
    import tensorflow as tf
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        out = tf.nn.weighted_cross_entropy_with_logits(tf.constant(z), xt, tf.constant(q))
    return out.numpy(), tape.gradient(out, xt).numpy()


def worst(got, name, dtype):
    z, x, q, hi, lo, unit = reference.table(name, dtype)
    err = reference.ulp_errors(got, hi, lo, unit)
    i = int(np.argmax(err))
    return f"{err[i]:.3g}" + (f" (x={x[i]:.4g}, z={z[i]:g})" if err[i] > 4 else "")


def main():
    rows = []
    for dtype in (np.float32, np.float64):
        z, x, q, *_ = reference.table("loss", dtype)
        rows.append((f"wcel_numba {dtype.__name__}", worst(wcel_numba.loss(z, x, q), "loss", dtype),
                     worst(wcel_numba.grad(z, x, q), "grad", dtype)))
        if dtype == np.float32:
            with np.errstate(invalid="ignore"):
                rows.append(("wcel_numba CUDA float32 (float-float; run on the CPU)",
                             worst(float_float("loss")(z, x, q), "loss", dtype),
                             worst(float_float("grad")(z, x, q), "grad", dtype)))
        rows.append((f"TF formula in NumPy {dtype.__name__}",
                     worst(tf_formula(z, x, q), "loss", dtype), "—"))
        for label, run in (("TensorFlow", tf_loss_and_grad), ("PyTorch", torch_loss_and_grad)):
            try:
                loss, grad = run(z, x, q)
            except ImportError:
                continue
            rows.append((f"{label} {dtype.__name__}", worst(loss, "loss", dtype),
                         worst(grad, "grad", dtype)))
    print("| implementation | loss: max ULP | grad: max ULP |")
    print("|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
