"""Fused training reductions on host data: the weighted, optionally
label-smoothed loss reduced to one number, and its gradient, in one pass.

reduced = sum_i w_i loss(z'_i, x_i, q_i)        ('sum')
        = that / N                               ('mean', N = number of elements)
with z' = z (1 - a) + a/2 (label smoothing a), and
d reduced / d x_i = w_i grad(z'_i, x_i, q_i) (/ N for 'mean').

Sums accumulate in float64 per block of BLOCK elements (in vector lanes:
``cpu._add_in_any_order``) and the block sums are added pairwise, so float32
data loses nothing to accumulation; the result does not depend on the number
of threads.  The only
full-size arrays are the outputs (the gradient; for 'none' the loss too);
inputs that are not contiguous are read in blocks of rows.
"""

import math

import numpy as np

from . import _host, cpu

REDUCTIONS = ("mean", "sum", "none")
BLOCK = 4096


def check_options(reduction, label_smoothing):
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, not {reduction!r}")
    if not 0.0 <= float(label_smoothing) <= 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1], not {label_smoothing!r}")


def reduce_host(labels, logits, pos_weight, weight, reduction, label_smoothing, want_grad,
                grad_scale=None):
    """See the module docstring; ``grad_scale`` overrides the factor of the
    gradient (for reductions split over chunks, e.g. by Dask)."""
    check_options(reduction, label_smoothing)
    names = ("labels", "logits", "pos_weight", "weight")
    operands = [_host.as_operand(v, n) for v, n in
                zip((labels, logits, pos_weight, 1.0 if weight is None else weight), names)]
    result_dtype, compute = _host.result_dtypes(*(getattr(v, "dtype", None) for v in operands))
    shape = _host.broadcast_shapes([np.shape(v) for v in operands], names)
    size = math.prod(shape)
    if grad_scale is None:
        grad_scale = 1.0 / size if reduction == "mean" and size else 1.0
    # full-size outputs: new memory, mapped before the loop (cpu.map_pages)
    loss_out = _host._new_output(shape, result_dtype) if reduction == "none" else None
    grad_out = _host._new_output(shape, result_dtype) if want_grad else None
    outputs = [o for o in (loss_out, grad_out) if o is not None]

    arrays = [v for v in operands if isinstance(v, np.ndarray) and v.size > 1]
    flat = (all(a.shape == shape and a.flags.c_contiguous and a.dtype.isnative
                and (a.dtype.itemsize >= 4 or a.dtype.kind in "biu") for a in arrays)
            and all(o.dtype == compute for o in outputs))
    sums = []
    if size and flat:
        sums.append(_reduce_block(operands, loss_out, grad_out, size, label_smoothing,
                                  grad_scale, compute))
    elif size:
        if not shape:
            shape = (1,)
        full = [np.broadcast_to(v, shape) if isinstance(v, np.ndarray) and v.size > 1 else v
                for v in operands]
        step = max(1, _host.CHUNK_SIZE // max(1, math.prod(shape[1:])))
        for start in range(0, shape[0], step):
            rows = slice(start, min(start + step, shape[0]))
            parts = [np.ascontiguousarray(v[rows], dtype=_readable(v.dtype, compute))
                     if isinstance(v, np.ndarray) and v.size > 1 else v for v in full]
            count = (rows.stop - rows.start) * math.prod(shape[1:])
            temps = [np.empty(count, compute) if o is not None else None
                     for o in (loss_out, grad_out)]
            sums.append(_reduce_block(parts, temps[0], temps[1], count, label_smoothing,
                                      grad_scale, compute))
            for o, t in zip((loss_out, grad_out), temps):
                if o is not None:
                    o.reshape(shape)[rows] = t.reshape((rows.stop - rows.start,) + shape[1:])
    total = math.fsum(sums)
    if reduction == "none":
        result = loss_out if loss_out.shape else loss_out[()]
    elif reduction == "sum":
        result = result_dtype.type(total)
    else:
        result = result_dtype.type(total / size if size else np.nan)
    return (result, grad_out if grad_out is None or grad_out.shape else grad_out[()]) \
        if want_grad else result


def _readable(dtype, compute):
    """The dtype the loop reads a block in: as is, unless numba cannot."""
    if dtype.isnative and (dtype.itemsize >= 4 or dtype.kind in "biu"):
        return dtype
    return compute


def _reduce_block(operands, loss_out, grad_out, size, smoothing, grad_scale, compute):
    """float64 sum of the weighted loss over ``size`` contiguous elements."""
    args = []
    for v in operands:
        if isinstance(v, np.ndarray) and v.size > 1:
            args.append(v.reshape(-1))
        else:
            args.append(_host._scalar_value(v, compute))
    partials = np.empty((size + BLOCK - 1) // BLOCK, np.float64)
    _host.run_parallel_safely(
        cpu.get_reduce_loop,
        (*args, float(smoothing), grad_scale,
         None if loss_out is None else loss_out.reshape(-1),
         None if grad_out is None else grad_out.reshape(-1), size, partials, BLOCK,
         compute.type(0)),
        size)
    return float(np.sum(partials))
