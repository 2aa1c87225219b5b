"""The CPU target.

Public: ``loss``, ``grad``, ``grad_labels``, ``hessian`` -- NumPy ufuncs made by
``numba.vectorize`` with float32 and float64 loops, called as
``ufunc(labels, logits, pos_weight)``.  They broadcast like any ufunc; every
loop computes in float64 and rounds once to the output type.

Internal: the loops the dispatcher prefers when the layout allows it.  Numba's
ufunc loop only vectorizes when every operand is unit-strided, so a scalar
``pos_weight`` (stride 0) would send it to a slow strided loop, and it writes a
strided ``out=`` wrongly when the inputs are contiguous.  ``flat_loop`` (all
operands contiguous of the output's size, or scalars) and ``rows_loop`` (a
contiguous (rows, cols) output with operands of that shape, of shape (cols,)
-- e.g. a per-class ``pos_weight`` -- or scalars) take scalars as arguments
and are compiled, serial and parallel, from the same scalar functions.
"""

import types as types_module

import numba
from numba import prange, types
from numba.extending import overload

from . import _cpumath
from ._scalar import ELEMENTWISE, build_scalar_functions

SIGNATURES = [
    "float32(float32, float32, float32)",
    "float64(float64, float64, float64)",
]

_inline = numba.njit(inline="always", error_model="numpy")

#: The scalar functions for float64 results ...
scalar = build_scalar_functions(_inline, _cpumath.exp_nonpositive, _cpumath.log1p_unit,
                                numba.float64)
#: ... and for float32 results: the same definitions with primitives that are
#: exact to 2**-31 instead of 2**-53 (still computed in float64, rounded once).
scalar_single = build_scalar_functions(
    _inline, _cpumath.exp_nonpositive_single, _cpumath.log1p_unit_single, numba.float64)


def _by_result_type(name):
    """A jitted function ``f(witness, labels, logits, pos_weight)`` that runs
    ``name`` with the float32-result primitives when ``witness`` (an output
    array, a pair of them, or a scalar of the result type) is float32."""
    fn64, fn32 = getattr(scalar, name), getattr(scalar_single, name)

    def typed(witness, labels, logits, pos_weight):
        """Stub: implemented by the overload below."""

    @overload(typed, inline="always")
    def _typed(witness, labels, logits, pos_weight):
        kind = witness[0] if isinstance(witness, types.BaseTuple) else witness
        kind = kind.dtype if isinstance(kind, types.Array) else kind
        fn = fn32 if kind == types.float32 else fn64
        return lambda witness, labels, logits, pos_weight: fn(labels, logits, pos_weight)

    typed.__name__ = typed.__qualname__ = f"{name}_by_result_type"
    return typed


_typed = {name: _by_result_type(name) for name in ELEMENTWISE + ("loss_and_grad",)}


def _specialize(template, fn, qualname):
    """A copy of ``template`` whose global ``fn`` is the scalar function ``fn``.

    Numba's on-disk cache names its files after ``__qualname__`` and keys them
    on the bytecode and closure; copies with distinct names and no closure
    therefore cache separately and reproducibly across processes (a closure
    over a dispatcher would not: its pickle holds a per-process id).
    """
    copy = types_module.FunctionType(template.__code__, {**template.__globals__, "fn": fn},
                                     qualname, template.__defaults__)
    copy.__qualname__ = qualname
    copy.__doc__ = template.__doc__
    return copy


def _ufunc_template(labels, logits, pos_weight):
    # the float32 loop (float32 logits) gets the float32-result primitives
    return fn(logits, labels, logits, pos_weight)  # noqa: F821 -- set by _specialize


def _make_ufunc(name):
    kernel = _specialize(_ufunc_template, _typed[name], name)
    kernel.__doc__ = (f"{name}(labels, logits, pos_weight): elementwise weighted "
                      f"sigmoid cross-entropy {name}, as a NumPy ufunc.")
    return numba.vectorize(SIGNATURES, cache=True)(kernel)


loss = _make_ufunc("loss")
grad = _make_ufunc("grad")
grad_labels = _make_ufunc("grad_labels")
hessian = _make_ufunc("hessian")


def _item(a, i):
    """a[i] for a 1-D array, a itself for a scalar."""


@overload(_item, inline="always")
def _item_overload(a, i):
    if isinstance(a, types.Array):
        return lambda a, i: a[i]
    return lambda a, i: a


def _cell(a, r, c):
    """a[r, c] for a 2-D array, a[c] for a row of the last axis, a for a scalar."""


@overload(_cell, inline="always")
def _cell_overload(a, r, c):
    if isinstance(a, types.Array) and a.ndim == 2:
        return lambda a, r, c: a[r, c]
    if isinstance(a, types.Array):
        return lambda a, r, c: a[c]
    return lambda a, r, c: a


def _store(out, index, value):
    """out[index] = value, or each of a pair of outputs for a pair of values."""


@overload(_store, inline="always")
def _store_overload(out, index, value):
    if isinstance(out, types.Array):
        def store_one(out, index, value):
            out[index] = value
        return store_one

    def store_pair(out, index, value):
        out[0][index] = value[0]
        out[1][index] = value[1]
    return store_pair


def _flat_loop(labels, logits, pos_weight, out, size):
    for i in prange(size):
        _store(out, i, fn(out, _item(labels, i), _item(logits, i),  # noqa: F821
                          _item(pos_weight, i)))


def _rows_loop(labels, logits, pos_weight, out, rows, cols):
    for r in prange(rows):
        for c in range(cols):
            _store(out, (r, c), fn(out, _cell(labels, r, c),  # noqa: F821
                                   _cell(logits, r, c), _cell(pos_weight, r, c)))


_LOOP_TEMPLATES = {"flat": _flat_loop, "rows": _rows_loop}

_loss = _typed["loss"]
_grad = _typed["grad"]


def _put(out, i, value):
    """out[i] = value, or nothing when out is None."""


@overload(_put, inline="always")
def _put_overload(out, i, value):
    if isinstance(out, types.NoneType):
        return lambda out, i, value: None

    def put(out, i, value):
        out[i] = value
    return put


def _reduce_loop(labels, logits, pos_weight, weight, smoothing, grad_scale,
                 loss_out, grad_out, size, partials, block, witness):
    """Weighted loss summed per block of ``block`` elements into ``partials``
    (float64), with label smoothing z (1 - a) + a/2; optionally the weighted
    elementwise loss into ``loss_out`` and weight * grad_scale * grad into
    ``grad_out`` (either may be None).  Operands: 1-D arrays or scalars;
    ``witness`` is a scalar of the result type (float32 results use the
    float32-result primitives)."""
    keep = 1.0 - smoothing
    shift = 0.5 * smoothing
    for b in prange(partials.size):
        stop = min(size, (b + 1) * block)
        total = 0.0
        for i in range(b * block, stop):
            z = float(_item(labels, i)) * keep + shift
            x = _item(logits, i)
            q = _item(pos_weight, i)
            w = float(_item(weight, i))
            value = w * _loss(witness, z, x, q)
            total += value
            _put(loss_out, i, value)
            _put(grad_out, i, (w * grad_scale) * _grad(witness, z, x, q))
        partials[b] = total


#: {parallel: compiled reduction loop}, filled lazily.
_reduce_loops = {}


def get_reduce_loop(parallel):
    """The reduction loop, serial or parallel (compiled lazily)."""
    loop = _reduce_loops.get(parallel)
    if loop is None:
        kernel = _specialize(_reduce_loop, None,
                             "reduce_loop_parallel" if parallel else "reduce_loop")
        loop = _reduce_loops[parallel] = numba.njit(
            parallel=parallel, error_model="numpy", cache=True)(kernel)
    return loop

#: {(function name, "flat" | "rows", parallel): compiled loop}, filled lazily.
compiled_loops = {}


def get_loop(name, layout, parallel):
    """The flat or rows loop of scalar function ``name`` (compiled lazily)."""
    key = (name, layout, parallel)
    loop = compiled_loops.get(key)
    if loop is None:
        qualname = f"{layout}_loop_{name}{'_parallel' if parallel else ''}"
        kernel = _specialize(_LOOP_TEMPLATES[layout], _typed[name], qualname)
        loop = compiled_loops[key] = numba.njit(parallel=parallel, error_model="numpy", cache=True)(kernel)
    return loop
