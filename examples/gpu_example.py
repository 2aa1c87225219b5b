"""The same calls on a GPU: CuPy, PyTorch and Numba device arrays.

Results come back in the caller's array type, on the caller's device and
stream; nothing is copied between host and device.  Uses whichever of CuPy
and PyTorch (with CUDA) is installed, and Numba's device arrays always.

Run:  python examples/gpu_example.py        (needs a CUDA GPU and wcel_numba[cuda])
"""

import numpy as np
from numba import cuda

import wcel_numba

if not cuda.is_available():
    raise SystemExit("no CUDA GPU here: " + wcel_numba._dispatch.cuda_status())

rng = np.random.default_rng(0)
logits = rng.standard_normal((1000, 5)).astype(np.float32) * 3
labels = (rng.random((1000, 5)) < 0.1).astype(np.float32)
pos_weight = np.full(5, 9.0, np.float32)  # per class: ~9 negatives per positive
reference = wcel_numba.reduce_loss(labels, logits, pos_weight)

# Numba device arrays
x, z, q = cuda.to_device(logits), cuda.to_device(labels), cuda.to_device(pos_weight)
loss, grad = wcel_numba.loss_and_grad(z, x, q)                 # device arrays
mean, dmean = wcel_numba.reduce_loss_and_grad(z, x, q)         # 0-d device array + gradient
print("numba:  mean loss", float(mean.copy_to_host()), " CPU:", float(reference))

try:
    import cupy as cp
    xc, zc, qc = cp.asarray(logits), cp.asarray(labels), cp.asarray(pos_weight)
    print("cupy:  ", type(wcel_numba.grad(zc, xc, qc)).__name__,
          float(wcel_numba.reduce_loss(zc, xc, qc)))
except ImportError:
    pass

try:
    import torch
    if torch.cuda.is_available():
        xt = torch.as_tensor(logits, device="cuda").requires_grad_(True)
        zt, qt = torch.as_tensor(labels, device="cuda"), torch.as_tensor(pos_weight, device="cuda")
        value = wcel_numba.binary_cross_entropy_with_logits(xt, zt, pos_weight=qt)
        print("torch: ", value.device, float(value))
except ImportError:
    pass
