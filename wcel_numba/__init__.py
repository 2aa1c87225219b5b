"""Weighted sigmoid cross-entropy and its derivatives as Numba ufuncs.

``loss``, ``grad``, ``grad_labels``, ``hessian`` and ``loss_and_grad`` take
``(labels, logits, pos_weight=1.0, *, out=None)``, broadcast like NumPy and
run on the CPU or on a CUDA GPU depending on where the arrays live.
``weighted_cross_entropy_with_logits`` is TensorFlow's entry point.
The compiled ufuncs themselves are ``wcel_numba.cpu.loss`` etc.
"""

import sys

from . import _cuda_target, cpu
from .api import (binary_cross_entropy_with_logits, grad, grad_labels, hessian, loss,
                  loss_and_grad, reduce_loss, reduce_loss_and_grad,
                  weighted_cross_entropy_with_logits)

# ``wcel_numba.cuda``: the CUDA ufuncs, built on first use (see _cuda_target).
cuda = sys.modules[__name__ + ".cuda"] = _cuda_target

__version__ = "0.1.0"

__all__ = ["loss", "grad", "grad_labels", "hessian", "loss_and_grad",
           "reduce_loss", "reduce_loss_and_grad", "binary_cross_entropy_with_logits",
           "weighted_cross_entropy_with_logits", "cpu", "cuda"]
