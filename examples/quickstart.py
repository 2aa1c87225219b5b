"""Quickstart: loss and gradient of a multi-label batch with per-class pos_weight.

Run:  python examples/quickstart.py
"""

import numpy as np

import wcel_numba

rng = np.random.default_rng(0)
batch, classes = 8, 3

logits = rng.standard_normal((batch, classes)).astype(np.float32) * 3
labels = (rng.random((batch, classes)) < [0.5, 0.2, 0.05]).astype(np.float32)

# Rare classes get a larger pos_weight: more recall for them (fewer false
# negatives) at the cost of precision.  The usual choice is n_neg / n_pos.
pos_weight = np.array([1.0, 4.0, 19.0], dtype=np.float32)

loss, grad = wcel_numba.loss_and_grad(labels, logits, pos_weight)  # (8, 3) each
print("mean loss per class:", loss.mean(axis=0))
print("gradient w.r.t. logits, first row:", grad[0])

# One step of gradient descent on the logits lowers the loss.
step = logits - 0.5 * grad
print("mean loss before / after one step: %.4f / %.4f"
      % (loss.mean(), wcel_numba.loss(labels, step, pos_weight).mean()))

# The tail where TensorFlow and PyTorch return 0 in float32:
print("loss(z=0, x=-58.25) =", wcel_numba.loss(np.float32(0), np.float32(-58.25)))
