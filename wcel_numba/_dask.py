"""Dask arrays: every function stays lazy and chunked.

Elementwise functions map over blocks (``dask.array.core.elemwise``, which
broadcasts and aligns chunks); each block goes through the dispatcher, so
blocks of CuPy arrays run on the GPU.  Reductions compute one partial sum per
block with the fused kernel and add them lazily; the gradient is one more
blockwise map with the global 1/N factor.
"""

import numpy as np

from . import _host


def _dtype(value):
    dtype = getattr(value, "dtype", None)
    return None if dtype is None else np.dtype(dtype)


def elementwise(name, labels, logits, pos_weight):
    import dask.array as da

    from . import api
    fn = getattr(api, name)
    result_dtype, __ = _host.result_dtypes(_dtype(labels), _dtype(logits), _dtype(pos_weight))
    if name == "loss_and_grad":
        return (elementwise("loss", labels, logits, pos_weight),
                elementwise("grad", labels, logits, pos_weight))
    return da.core.elemwise(fn, labels, logits, pos_weight, dtype=result_dtype)


def reduce(labels, logits, pos_weight, weight, reduction, label_smoothing, want_grad):
    import dask.array as da

    from . import _dispatch
    from ._reduce import check_options
    check_options(reduction, label_smoothing)
    args = [a if isinstance(a, da.Array) or not np.ndim(a) else da.asarray(a)
            for a in (labels, logits, pos_weight, 1.0 if weight is None else weight)]
    lazy = [i for i, a in enumerate(args) if isinstance(a, da.Array)]
    shape = _host.broadcast_shapes([np.shape(a) for a in args],
                                   ("labels", "logits", "pos_weight", "weight"))
    ndim = len(shape)
    result_dtype, __ = _host.result_dtypes(*(_dtype(a) for a in args))
    # Chunks: those of an argument of the full shape (logits first), else the first.
    reference = next((args[i] for i in [1] + lazy if isinstance(args[i], da.Array)
                      and args[i].shape == shape), args[lazy[0]])
    chunks = da.broadcast_to(reference, shape).chunks
    blocks = [da.broadcast_to(args[i], shape).rechunk(chunks) for i in lazy]

    def with_blocks(parts):
        full = list(args)
        for i, part in zip(lazy, parts):
            full[i] = part
        return full

    def block_reduce(*parts, want):
        """One block: its weighted sum ('sum'), weighted elementwise loss
        ('none'), or (sum, gradient) ('grad')."""
        z, x, q, w = with_blocks(parts)
        return _dispatch.reduce(z, x, q, w, "none" if want == "none" else "sum",
                                label_smoothing, want == "grad")

    size = int(np.prod(shape))
    if reduction == "none":
        loss = da.map_blocks(lambda *p: block_reduce(*p, want="none"), *blocks,
                             dtype=result_dtype)
    else:
        def block_sum(*parts):
            total = block_reduce(*parts, want="sum")
            return np.full((1,) * ndim, float(total), dtype=np.float64)
        sums = da.map_blocks(block_sum, *blocks, dtype=np.float64,
                             chunks=tuple((1,) * len(c) for c in chunks))
        total = sums.sum()
        if reduction == "mean":
            total = total / size if size else total * np.nan
        loss = total.astype(result_dtype)
    if not want_grad:
        return loss
    scale = 1.0 / size if reduction == "mean" and size else 1.0

    def block_grad(*parts):
        grad = block_reduce(*parts, want="grad")[1]
        if scale != 1.0:
            grad *= grad.dtype.type(scale)
        return grad

    return loss, da.map_blocks(block_grad, *blocks, dtype=result_dtype)
