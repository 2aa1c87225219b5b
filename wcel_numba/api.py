"""The public functions.

Each elementwise function is generated from one entry in ``_DOCS`` and calls
the dispatcher, which runs it where the arrays live and hands the result back
in the caller's array type.
"""

import numpy as np

from . import _dispatch, _host

_COMMON_DOC = """

Parameters
----------
labels : array_like
    Targets z, usually in [0, 1] (soft labels allowed).
logits : array_like
    Unnormalized log-odds x.
pos_weight : array_like, default 1.0
    Weight q of the positive term; broadcasts like the other two (e.g. a
    per-class vector of shape (C,) against logits of shape (N, C)).
out : array, optional
    Where to write the result; must have the broadcast shape.
stream : numba stream or int, optional
    GPU only: the CUDA stream to run on (a Numba stream or a raw
    ``cudaStream_t`` as int); by default the stream the logits' producer
    exports (PyTorch's or CuPy's current stream).  Ignored on the CPU.

All three inputs broadcast together as in NumPy.  float32 in gives float32
out, float64 gives float64, float16 is computed in float32; integer or bool
labels and pos_weight never upcast float logits.  Scalars in give a NumPy
scalar out.  Infinite logits give the exact limits; NaN in gives NaN out.
"""

_DOCS = {
    "loss": """Weighted sigmoid cross-entropy, elementwise.

    loss = q z softplus(-x) + (1 - z) softplus(x),
    softplus(t) = max(t, 0) + log1p(exp(-|t|)).

    Equal to TensorFlow's weighted_cross_entropy_with_logits but without its
    cancellation (accurate to 2 ULP in float32, 4 ULP in float64).""",
    "grad": """Derivative of the loss with respect to the logits.

    grad = (1 - z) sigma(x) - q z sigma(-x),   sigma = the logistic sigmoid.""",
    "grad_labels": """Derivative of the loss with respect to the labels.

    grad_labels = q softplus(-x) - softplus(x).""",
    "hessian": """Second derivative of the loss with respect to the logits.

    hessian = ((1 - z) + q z) sigma(x) sigma(-x).""",
    "loss_and_grad": """(loss, grad) in one pass over the data.

    Bit-identical to (loss(...), grad(...)); ``out`` is None or a pair of
    arrays.""",
}


def _make_public(name):
    def public(labels, logits, pos_weight=1.0, *, out=None, stream=None):
        if type(logits) is np.ndarray and type(labels) is np.ndarray:
            result = _host.run_common_case(name, labels, logits, pos_weight, out)
            if result is not None:
                return result
        return _dispatch.elementwise(name, labels, logits, pos_weight, out, stream)

    public.__name__ = public.__qualname__ = name
    public.__module__ = "wcel_numba"
    public.__doc__ = _DOCS[name] + _COMMON_DOC
    return public


loss = _make_public("loss")
grad = _make_public("grad")
grad_labels = _make_public("grad_labels")
hessian = _make_public("hessian")
loss_and_grad = _make_public("loss_and_grad")


def weighted_cross_entropy_with_logits(labels=None, logits=None, pos_weight=None,
                                       name=None, targets=None):
    """TensorFlow's ``tf.nn.weighted_cross_entropy_with_logits``, accurately.

    ``labels`` and ``logits`` must have the same shape (ValueError otherwise);
    ``pos_weight`` broadcasts.  ``targets`` is TensorFlow 1.x's name for
    ``labels``; ``name`` is accepted and ignored.  Returns ``loss(labels,
    logits, pos_weight)``.
    """
    if targets is not None:
        if labels is not None:
            raise ValueError("pass labels or targets (its old name), not both")
        labels = targets
    for arg, value in (("labels", labels), ("logits", logits), ("pos_weight", pos_weight)):
        if value is None:
            raise TypeError(f"weighted_cross_entropy_with_logits() needs {arg}")
    labels_shape, logits_shape = _dispatch.shape_of(labels), _dispatch.shape_of(logits)
    if labels_shape != logits_shape:
        raise ValueError(
            "`logits` and `labels` must have the same shape, received "
            f"({logits_shape} vs {labels_shape}).")
    return loss(labels, logits, pos_weight)


_REDUCE_DOC = """

Parameters
----------
labels, logits, pos_weight : array_like
    As for ``loss``; all broadcast together.
weight : array_like, optional
    Per-element sample weight w, broadcasting like PyTorch's ``weight``.
reduction : {'mean', 'sum', 'none'}
    'mean' divides the weighted sum by the number of elements (as PyTorch
    does), 'sum' returns it, 'none' returns the weighted elementwise loss.
label_smoothing : float in [0, 1]
    a: labels become z (1 - a) + a/2, as in Keras.

One pass over the data; the sum accumulates in float64 (per block, the block
sums added pairwise), so float32 data loses nothing to accumulation.  On the
GPU a block-reduction kernel produces the number on the device; Dask arrays
stay lazy (per-chunk partial sums, then combined)."""


def reduce_loss(labels, logits, pos_weight=1.0, *, weight=None, reduction="mean",
                label_smoothing=0.0, stream=None):
    return _dispatch.reduce(labels, logits, pos_weight, weight, reduction, label_smoothing,
                            False, stream)


def reduce_loss_and_grad(labels, logits, pos_weight=1.0, *, weight=None, reduction="mean",
                         label_smoothing=0.0, stream=None):
    return _dispatch.reduce(labels, logits, pos_weight, weight, reduction, label_smoothing,
                            True, stream)


reduce_loss.__doc__ = """The weighted loss, reduced: sum_i w_i loss(z'_i, x_i, q_i) (/ N for
'mean'), with z' = z (1 - a) + a/2.""" + _REDUCE_DOC
reduce_loss_and_grad.__doc__ = """(reduce_loss(...), its gradient with respect to the logits):
d/dx_i = w_i grad(z'_i, x_i, q_i) (/ N for 'mean'); the gradient has the
broadcast shape and is the only full-size array made.""" + _REDUCE_DOC


def binary_cross_entropy_with_logits(input, target, weight=None, pos_weight=None,
                                     reduction="mean"):
    """PyTorch's ``torch.nn.functional.binary_cross_entropy_with_logits``.

    Same name, argument order and semantics: ``pos_weight`` broadcasts against
    the last dimension (it is the per-class weight of the positive term),
    ``weight`` against the whole input; reduction 'mean', 'sum' or 'none'.
    Torch tensors in give torch tensors out.  Equals
    ``reduce_loss(target, input, pos_weight, weight=weight, reduction=...)``.
    """
    return reduce_loss(target, input, 1.0 if pos_weight is None else pos_weight,
                       weight=weight, reduction=reduction)
