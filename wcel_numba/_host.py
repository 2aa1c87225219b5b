"""Running an elementwise function on host (CPU) arrays.

Turns the caller's arguments into NumPy operands, checks them, decides the
result's dtype and shape, and runs the fastest CPU loop the layout allows:

* ``flat``: every array operand is contiguous with the output's shape (all in
  C order, or all in Fortran order), the rest are scalars;
* ``rows``: a C-contiguous (rows, cols) output with operands of that shape,
  of the last axis only (a per-class ``pos_weight``, read from a small tile
  that repeats it over the rows of a block), or scalars;
* otherwise the NumPy ufunc, which broadcasts anything.

The loops write only into a contiguous output of the compute dtype that does
not partially overlap an input; any other ``out=`` gets the result through a
temporary and ``np.copyto``.
"""

import math
import os
import threading

import numba
import numpy as np

from . import cpu

ARG_NAMES = ("labels", "logits", "pos_weight")

#: Arrays at least this large use the parallel loops (when threads > 1).
PARALLEL_MIN_SIZE = 1 << 15

_SCALAR_TYPES = (float, int, bool)
_FLOAT_KINDS = "f"
_ACCEPTED_KINDS = "biuf"


def as_operand(value, name):
    """An ndarray, or a Python scalar kept as is (weak, as NumPy 2 treats it)."""
    if type(value) in _SCALAR_TYPES:
        return value
    if value is None:
        raise TypeError(f"{name} must be a number or an array, not None")
    if isinstance(value, np.ma.MaskedArray):
        raise TypeError(
            f"{name} is a masked array: wcel_numba does not apply masks; pass "
            f"{name}.filled(value) or {name}.data explicitly")
    if not isinstance(value, np.ndarray):
        try:
            value = np.asarray(value)
        except Exception as exc:  # e.g. ragged lists
            raise TypeError(f"{name} could not be converted to an array: {exc}") from exc
    if value.dtype.kind not in _ACCEPTED_KINDS:
        raise TypeError(
            f"{name} has unsupported dtype {value.dtype}; expected a real "
            f"floating, integer or bool dtype")
    return value


def result_dtypes(labels_dtype, logits_dtype, pos_weight_dtype, weight_dtype=None):
    """(dtype of the result, dtype it is computed in), from the arguments'
    dtypes (None for a Python scalar; ``weight_dtype`` for the reductions'
    sample weight, which promotes like pos_weight).

    Float arrays follow NumPy promotion; bool and integer labels and
    pos_weight never upcast float logits; integer or bool logits count as
    float64; Python scalars are weak.  float16 is computed in float32.
    """
    floats = [dt for dt in (labels_dtype, logits_dtype, pos_weight_dtype, weight_dtype)
              if dt is not None and dt.kind in _FLOAT_KINDS]
    if logits_dtype is not None and logits_dtype.kind not in _FLOAT_KINDS:
        floats.append(np.dtype(np.float64))
    result = np.result_type(*floats) if floats else np.dtype(np.float64)
    if result.itemsize > 8:
        raise TypeError(f"dtype {result} is not supported; use float64 or float32")
    compute = np.dtype(np.float32) if result.itemsize <= 4 else np.dtype(np.float64)
    return result, compute


def broadcast_shape(operands):
    shapes = [v.shape if isinstance(v, np.ndarray) else () for v in operands]
    nonscalar = [s for s in shapes if s]
    if all(s == nonscalar[0] for s in nonscalar[1:]):
        return nonscalar[0] if nonscalar else ()
    return broadcast_shapes(shapes, ARG_NAMES)


def broadcast_shapes(shapes, names):
    """np.broadcast_shapes, with an error that names every argument's shape."""
    try:
        return np.broadcast_shapes(*shapes)
    except ValueError:
        raise ValueError(
            ", ".join(names[:-1]) + f" and {names[-1]} do not broadcast together: shapes "
            + ", ".join(f"{n} {s}" for n, s in zip(names, shapes))) from None


def check_out(out, shape, result_dtype, name="out"):
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray, not {type(out).__name__}")
    if out.shape != shape:
        raise ValueError(f"{name} has shape {out.shape}, but the result has shape {shape}")
    if not out.flags.writeable:
        raise ValueError(f"{name} is read-only")
    if not np.can_cast(result_dtype, out.dtype, "same_kind"):
        raise TypeError(f"{name} has dtype {out.dtype}; cannot store the "
                        f"{result_dtype} result in it (casting='same_kind')")


# --- threads ---------------------------------------------------------------
# Numba's workqueue threading layer must not run two parallel regions at once,
# and GNU OpenMP must not be used in a child forked after the parent used it.
_parallel_lock = threading.Lock()
_layer_thread_safe = False
_forked = False


def _after_fork_in_child():
    global _forked
    _forked = True


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


#: Elements per block of the block loop: the length of a per-class tile.
BLOCK_SIZE = 4096


def run_loop(name, args, size):
    """Run the block loop, in parallel when that is large and safe; False
    when it refused an output that overlaps an input (see cpu._block_loop)."""
    return run_parallel_safely(lambda parallel: cpu.get_loop(name, parallel), args, size)


def _tile(row, cols, size):
    """A per-class vector repeated over the rows of one block: shape
    (1, block), and the block length (a whole number of rows)."""
    rows = max(1, min(BLOCK_SIZE // cols, size // cols))
    tile = np.empty((1, rows * cols), row.dtype)
    tile.reshape(rows, cols)[...] = row.reshape(-1)  # (np.tile takes 2 us more)
    return tile, rows * cols


def run_parallel_safely(get_loop, args, size):
    """Call ``get_loop(parallel)(*args)``: the parallel loop when ``size`` is
    large, there are threads, and no other parallel region would run at the
    same time on a layer that cannot take it; else the serial loop."""
    global _layer_thread_safe
    if size < PARALLEL_MIN_SIZE or _forked or numba.get_num_threads() < 2:
        return get_loop(False)(*args)
    if _layer_thread_safe:
        return get_loop(True)(*args)
    if not _parallel_lock.acquire(blocking=False):
        return get_loop(False)(*args)
    try:
        result = get_loop(True)(*args)
        _layer_thread_safe = numba.threading_layer() in ("omp", "tbb")
        return result
    finally:
        _parallel_lock.release()


# --- the elementwise call ---------------------------------------------------

def _is_scalar_like(value):
    return not isinstance(value, np.ndarray) or value.size == 1


def _scalar_value(value, compute):
    if isinstance(value, np.ndarray):
        value = value.reshape(())[()]
    if isinstance(value, (float, np.floating)) or compute != np.float64:
        return compute.type(value)
    return value


def _choose_layout(arrays, shape):
    """'flat' (with memory order 'C' or 'F'), 'rows', or None for the ufunc.

    The loops read bool, integer, float32 and float64 arrays in place (each
    element converted exactly to float64); other dtypes (float16, non-native
    byte order) go to the ufunc, which converts them in small buffers.
    """
    if not all(a.dtype.isnative and (a.dtype.itemsize >= 4 or a.dtype.kind in "biu")
               for a in arrays):
        return None, "C"
    full = [a for a in arrays if a.shape == shape]
    if len(full) == len(arrays):
        if all(a.flags.c_contiguous for a in full):
            return "flat", "C"
        if all(a.flags.f_contiguous for a in full):
            return "flat", "F"
        return None, "C"
    if not shape or not all(a.flags.c_contiguous for a in arrays):
        return None, "C"
    cols = shape[-1]
    for a in arrays:
        if a.shape != shape and not (a.size == cols and a.shape[-1] == cols):
            return None, "C"
    return "rows", "C"


def _overlaps_badly(out, arrays):
    for a in arrays:
        if np.may_share_memory(out, a):
            same = (a.__array_interface__["data"][0] == out.__array_interface__["data"][0]
                    and a.strides == out.strides and a.shape == out.shape
                    and a.dtype == out.dtype)
            if not same:
                return True
    return False


_FLOAT32 = np.dtype(np.float32)
_FLOAT64 = np.dtype(np.float64)
_PY_NUMBERS = (float, int)
_float32_scalars = {}


def _as_float32(value):
    """np.float32(value), memoized: pos_weight is usually the same every call."""
    scalar = _float32_scalars.get(value)
    if scalar is None:
        if len(_float32_scalars) > 64:
            _float32_scalars.clear()
        scalar = _float32_scalars[value] = np.float32(value)
    return scalar


def run_common_case(name, labels, logits, pos_weight, out=None):
    """The common call, with little Python overhead, or None if it isn't one.

    Common: same-shape, same-dtype, C-contiguous float32/float64 labels and
    logits; pos_weight a Python number, an array like them, or a per-class
    vector along the last axis; no out, or (a pair of) C-contiguous
    writeable out arrays of that dtype and shape that are the logits or
    labels themselves or share no memory with the inputs.  Identical in
    result to ``run_elementwise``, which handles everything else.
    """
    dtype = logits.dtype
    shape = logits.shape
    if (labels.dtype is not dtype or labels.shape != shape or not shape
            or (dtype is not _FLOAT32 and dtype is not _FLOAT64)
            or not (logits.flags.c_contiguous and labels.flags.c_contiguous)):
        return None
    layout = "flat"
    if type(pos_weight) in _PY_NUMBERS:
        q = _as_float32(pos_weight) if dtype is _FLOAT32 else float(pos_weight)
    elif (type(pos_weight) is np.ndarray and pos_weight.dtype is dtype
          and pos_weight.flags.c_contiguous):
        q = pos_weight
        if pos_weight.shape != shape:
            if pos_weight.shape != shape[-1:] or len(shape) < 2:
                return None
            layout = "rows"
    else:
        return None
    size = logits.size
    if out is None:
        out = _new_output(shape, dtype)
        if name == "loss_and_grad":
            out = (out, _new_output(shape, dtype))
    elif not _usable_out(out, name, dtype, shape):
        return None
    block = BLOCK_SIZE
    if layout == "rows":
        q, block = _tile(q, shape[-1], size)
    elif type(q) is np.ndarray:
        q = q.reshape(-1)
    if len(shape) == 1:
        args = (labels, logits, q, out, size, block)
    else:
        args = (labels.reshape(-1), logits.reshape(-1), q, _reshaped(out, -1), size, block)
    if size < PARALLEL_MIN_SIZE:
        loop = cpu.compiled_loops.get((name, False))
        done = (loop or cpu.get_loop(name, False))(*args)
    else:
        done = run_loop(name, args, size)
    return out if done else None


#: New outputs at least this large (NumPy's threshold for asking the kernel
#: for huge pages) have their pages mapped before the loop writes them.
MAP_PAGES_MIN_BYTES = 1 << 22


def _new_output(shape, dtype, order="C"):
    """np.empty(shape, dtype, order=order), its pages mapped first when it is
    large (see ``cpu.map_pages``)."""
    out = np.empty(shape, dtype, order=order)
    if out.nbytes >= MAP_PAGES_MIN_BYTES:
        cpu.map_pages(out)
    return out


def _usable_out(out, name, dtype, shape):
    """Whether ``out`` can take the loop's results directly (see run_common_case)."""
    outs = out if type(out) is tuple and name == "loss_and_grad" else (out,)
    if (name == "loss_and_grad") != (type(out) is tuple) or len(outs) != (
            2 if name == "loss_and_grad" else 1):
        return False
    for o in outs:
        if (type(o) is not np.ndarray or o.dtype is not dtype or o.shape != shape
                or not o.flags.c_contiguous or not o.flags.writeable):
            return False
    # (overlaps with the inputs are checked by the loop itself)
    return len(outs) == 1 or not np.may_share_memory(outs[0], outs[1])


def _reshaped(out, shape):
    """Views of an output array, or of a pair of them, in another shape."""
    if type(out) is tuple:
        return tuple(o.reshape(shape) for o in out)
    return out.reshape(shape)


#: Elements per temporary when the result goes through one (a strided,
#: cast or overlapping out=): temporaries never grow with the data.
CHUNK_SIZE = 1 << 16


def run_elementwise(name, labels, logits, pos_weight, out=None):
    """Evaluate ``name`` ('loss', ..., 'loss_and_grad') on host data.

    ``out`` is None, an ndarray, or (for loss_and_grad) a pair of them.
    Returns an ndarray (or a pair), or NumPy scalars for 0-d results.
    """
    operands = [as_operand(v, n) for v, n in zip((labels, logits, pos_weight), ARG_NAMES)]
    result_dtype, compute = result_dtypes(*(getattr(v, "dtype", None) for v in operands))
    shape = broadcast_shape(operands)
    nout = 2 if name == "loss_and_grad" else 1
    outs = normalize_out(out, nout)
    for i, o in enumerate(outs):
        if o is not None:
            check_out(o, shape, result_dtype, "out" if nout == 1 else f"out[{i}]")

    arrays = [v for v in operands if not _is_scalar_like(v)]
    layout, order = _choose_layout(arrays, shape)
    results = [o if o is not None else _new_output(shape, result_dtype, order)
               for o in outs]
    if math.prod(shape):
        direct = all(r.dtype == compute
                     and (r.flags.c_contiguous if order == "C" else r.flags.f_contiguous)
                     and not _overlaps_badly(r, arrays) for r in results)
        if not (direct and _compute(name, operands, shape, layout, results, compute)):
            _compute_through_temporaries(name, operands, shape, results, compute)
    if not shape and out is None:
        results = [r[()] for r in results]
    return results[0] if nout == 1 else tuple(results)


def _compute(name, operands, shape, layout, targets, compute):
    """Fill ``targets`` (contiguous arrays of the compute dtype, in the
    layout's memory order) with the results; False, having written nothing,
    where the loop finds that a target overlaps an input after all."""
    if layout is None:
        _run_ufunc(name, operands, targets, compute)
        return True
    size = math.prod(shape)
    block = BLOCK_SIZE
    if layout == "rows":  # all per-class operands share one block length
        block = _tile(np.empty(shape[-1]), shape[-1], size)[1]
    args = []
    for v in operands:
        if _is_scalar_like(v):
            args.append(_scalar_value(v, compute))
        elif layout == "flat" or v.shape == shape:
            args.append(v.ravel(order="K"))
        else:
            args.append(_tile(v, shape[-1], size)[0])
    flat = [t.ravel(order="K") for t in targets]
    return run_loop(name, (*args, flat[0] if len(flat) == 1 else tuple(flat), size, block), size)


def _compute_through_temporaries(name, operands, shape, results, compute):
    """For outputs the loops cannot write directly (strided, another dtype,
    partly overlapping an input): compute blocks of rows into small contiguous
    temporaries and copy each into place.  Inputs that overlap an output are
    copied first (NumPy's overlap semantics)."""
    if any(isinstance(v, np.ndarray) and any(np.may_share_memory(v, r) for r in results)
           for v in operands):
        operands = [v.copy() if isinstance(v, np.ndarray) and v.size > 1 else v
                    for v in operands]
    if not shape:
        shape, results = (1,), [r.reshape(1) for r in results]
        operands = [v.reshape(1) if isinstance(v, np.ndarray) else v for v in operands]
    full = [np.broadcast_to(v, shape) if isinstance(v, np.ndarray) and v.size > 1 else v
            for v in operands]
    row_size = max(1, math.prod(shape[1:]))
    step = max(1, CHUNK_SIZE // row_size)
    for start in range(0, shape[0], step):
        block = slice(start, min(start + step, shape[0]))
        parts = [v[block] if isinstance(v, np.ndarray) and v.size > 1 else v for v in full]
        block_shape = (block.stop - block.start,) + tuple(shape[1:])
        arrays = [v for v in parts if not _is_scalar_like(v)]
        layout, __ = _choose_layout(arrays, block_shape)
        temps = [np.empty(block_shape, compute) for __ in results]
        if layout == "flat" and not all(a.flags.c_contiguous for a in arrays):
            layout = None
        _compute(name, parts, block_shape, layout, temps, compute)
        for r, t in zip(results, temps):
            np.copyto(r[block], t, casting="same_kind")


def normalize_out(out, nout):
    if nout == 1:
        return [out]
    if out is None:
        return [None, None]
    if not (isinstance(out, tuple) and len(out) == 2):
        raise TypeError("out must be None or a tuple of two arrays (loss, grad)")
    return list(out)


def _run_ufunc(name, operands, targets, compute):
    """The general broadcasting path: numba's CPU ufunc, writing into
    contiguous targets only (see cpu.py on strided out=).  A NaN input is
    documented to give NaN, so the 'invalid' flag its comparisons raise is not
    reported as a warning (overflow to inf still is, as in NumPy)."""
    names = ("loss", "grad") if name == "loss_and_grad" else (name,)
    with np.errstate(invalid="ignore"):
        for fname, target in zip(names, targets):
            getattr(cpu, fname)(*operands, out=target, dtype=compute)
