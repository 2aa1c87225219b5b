"""dtype, broadcasting, layout, out=, special-value and error semantics.

NumPy is the reference for broadcasting and dtype rules."""

import ctypes
import errno
import mmap
import re
import sys

import numpy as np
import pytest

import wcel_numba as w
from wcel_numba import _host, cpu

FUNCS = [w.loss, w.grad, w.grad_labels, w.hessian]
rng = np.random.default_rng(7)


def _data(shape, dtype=np.float64):
    x = (rng.standard_normal(shape) * 4).astype(dtype)
    z = (rng.random(shape) > 0.5).astype(dtype)
    return z, x


def _expected(fn, z, x, q, dtype):
    """The CPU ufunc on explicitly broadcast, contiguous copies."""
    z, x, q = (np.ascontiguousarray(a, dtype) for a in np.broadcast_arrays(z, x, q))
    return getattr(w.cpu, fn.__name__)(z, x, q)


# --- dtypes -----------------------------------------------------------------

@pytest.mark.parametrize("fn", FUNCS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_float_dtype_preserved(fn, dtype):
    z, x = _data(50, dtype)
    assert fn(z, x, 2.0).dtype == dtype
    assert fn(z, x, np.ones(50, dtype)).dtype == dtype


@pytest.mark.parametrize("fn", FUNCS)
def test_float16_computed_in_float32(fn):
    z, x = _data(40, np.float16)
    got = fn(z, x, 2.0)
    assert got.dtype == np.float16
    np.testing.assert_array_equal(got, fn(z.astype(np.float32), x.astype(np.float32), 2.0)
                                  .astype(np.float16))


@pytest.mark.parametrize("label_dtype", [np.bool_, np.int8, np.int64, np.uint32])
def test_integer_labels_and_pos_weight_do_not_upcast(label_dtype):
    z, x = _data(40, np.float32)
    zi = z.astype(label_dtype)
    got = w.loss(zi, x, np.array(3, np.int64))
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, w.loss(z, x, np.float32(3)))


def test_integer_logits_give_float64():
    got = w.loss(np.array([0, 1, 1]), np.array([-2, 0, 5]), 2)
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, w.loss([0.0, 1.0, 1.0], [-2.0, 0.0, 5.0], 2.0))


def test_mixed_floats_follow_numpy_promotion():
    z32, x32 = _data(30, np.float32)
    assert w.loss(z32.astype(np.float64), x32, 1.0).dtype == np.result_type(np.float32, np.float64)
    assert w.loss(z32, x32, np.float64(2.0)).dtype == np.float64  # NumPy 2: strong scalar
    assert w.loss(z32, x32, 2.0).dtype == np.float32  # Python float is weak


@pytest.mark.parametrize("arg", ["labels", "logits", "pos_weight"])
@pytest.mark.parametrize("bad", [np.array([1 + 2j]), np.array([object()], dtype=object),
                                 np.array(["a"]), np.array(["2020-01-01"], dtype="datetime64[D]"),
                                 np.zeros(1, dtype=[("a", "f8")])])
def test_unsupported_dtypes_name_the_argument(arg, bad):
    args = {"labels": np.zeros(1), "logits": np.zeros(1), "pos_weight": 1.0}
    args[arg] = bad
    with pytest.raises(TypeError, match=f"{arg}.*{re.escape(str(bad.dtype))}"):
        w.loss(**args)


@pytest.mark.parametrize("arg", ["labels", "logits", "pos_weight"])
def test_none_names_the_argument(arg):
    args = {"labels": np.zeros(1), "logits": np.zeros(1), "pos_weight": 1.0}
    args[arg] = None
    with pytest.raises(TypeError, match=arg):
        w.grad(**args)


# --- special values -----------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_exact_limits_at_infinity(dtype):
    inf = dtype(np.inf)
    z = np.array([0, 1, 0, 1, 0.3, 0.3], dtype)
    x = np.array([inf, inf, -inf, -inf, inf, -inf], dtype)
    q = dtype(2.5)
    np.testing.assert_array_equal(w.loss(z, x, q), [inf, 0, 0, inf, inf, inf])
    np.testing.assert_array_equal(w.grad(z, x, q), (1 - z) * (x > 0) - q * z * (x < 0))
    np.testing.assert_array_equal(w.hessian(z, x, q), np.zeros(6, dtype))
    np.testing.assert_array_equal(w.grad_labels(z, x, q), [-inf, -inf, inf, inf, -inf, inf])
    # q = 0: the positive term vanishes, also against an infinite softplus
    np.testing.assert_array_equal(w.loss(np.ones(2, dtype), [-inf, inf], 0.0), [0, 0])
    np.testing.assert_array_equal(w.grad_labels(np.ones(2, dtype), [-inf, inf], 0.0), [0, -inf])


@pytest.mark.parametrize("fn", FUNCS)
@pytest.mark.parametrize("where", [0, 1, 2])
def test_nan_in_any_input_gives_nan(fn, where):
    args = [np.array([0.0, 1.0, 0.5]), np.array([-1.0, 0.0, 30.0]), np.array([0.0, 1.0, 2.0])]
    args[where] = np.full(3, np.nan)
    assert np.isnan(fn(*args)).all()
    args = [0.0, np.inf, 0.0]  # weights of zero must not hide a NaN
    args[where] = np.nan
    assert np.isnan(fn(*args))


# float32 NaNs of every kind: quiet, negative, signalling, largest payloads
_NAN32_BITS = [0x7FC00000, 0xFFC00000, 0x7F800001, 0x7FBFFFFF, 0x7FFFFFFF, 0xFFFFFFFF,
               0x7FC00001, 0xFF800001]


@pytest.mark.parametrize("fn", FUNCS + [w.loss_and_grad])
def test_every_float32_nan_logit_gives_nan(fn, monkeypatch):
    # every NaN bit pattern, every path (a NaN's low bits must not leak into
    # the bit manipulation of exp)
    nans = np.array(_NAN32_BITS, np.uint32).view(np.float32)
    k = nans.size
    z = np.tile(np.array([0.0, 1.0, 0.5, 0.0], np.float32), k)[:k]
    q = np.tile(np.array([0.0, 3.0, 1.0, 1e-3], np.float32), k)[:k]

    def all_nan(result):
        for r in result if isinstance(result, tuple) else (result,):
            assert np.isnan(r).all(), r

    all_nan(fn(z, nans, q))                       # flat loop
    all_nan(fn(z, nans, np.float32(0.0)))         # scalar pos_weight 0: no weight hides it
    all_nan(fn(np.zeros(k, np.float32), nans, 0.0))
    rows = np.tile(nans, (3, 1))
    all_nan(fn(np.zeros_like(rows), rows, q))     # per-class rows loop
    all_nan(fn(z[::-1].copy()[::2], nans[::2], q[::2]))
    all_nan(fn(z[:, None], nans[:, None], q[None, :]))  # general broadcast (ufunc)
    for bits in _NAN32_BITS:                      # a NaN scalar logit
        all_nan(fn(z, np.uint32(bits).view(np.float32), q))
    monkeypatch.setattr(_host, "PARALLEL_MIN_SIZE", 1)
    big = np.resize(nans, 50_000)
    all_nan(fn(np.zeros(big.size, np.float32), big, 0.0))  # parallel loop
    if fn is w.loss:
        assert np.isnan(w.reduce_loss(z, nans, q, reduction="none")).all()
        assert np.isnan(w.reduce_loss(z, nans, q))


# --- shapes and layouts -----------------------------------------------------------

@pytest.mark.parametrize("fn", FUNCS)
@pytest.mark.parametrize("shapes", [
    ((5, 1), (1, 4), (4,)),
    ((3, 1, 2), (4, 2), ()),
    ((6,), (6,), (6,)),
    ((2, 3, 4), (2, 3, 4), (4,)),
    ((2, 3, 4), (2, 3, 4), (1, 1, 4)),
    ((1,), (7,), (1,)),
    ((0, 3), (0, 3), (3,)),
])
def test_broadcasting_matches_numpy(fn, shapes):
    z = rng.random(shapes[0])
    x = rng.standard_normal(shapes[1]) * 3
    q = rng.random(shapes[2]) * 4 if shapes[2] else 2.0
    got = fn(z, x, q)
    assert got.shape == np.broadcast_shapes(*shapes)
    np.testing.assert_array_equal(got, _expected(fn, z, x, q, np.float64))


def test_shapes_that_do_not_broadcast():
    with pytest.raises(ValueError, match=r"\(3,\).*\(4,\)"):
        w.loss(np.zeros(3), np.zeros(4))


def test_scalars_give_numpy_scalars():
    got = w.loss(1.0, 0.5, 2.0)
    assert isinstance(got, np.float64)
    assert isinstance(w.grad(np.float32(1), np.float32(0.5)), np.float32)
    assert isinstance(w.loss(np.array(1.0), np.array(0.5)), np.float64)
    lg = w.loss_and_grad(0, 0.5)
    assert isinstance(lg, tuple) and all(isinstance(v, np.float64) for v in lg)


def test_lists_and_tuples_are_accepted():
    np.testing.assert_array_equal(w.loss([0, 1], (0.5, -0.5), [1, 2]),
                                  w.loss(np.array([0.0, 1.0]), np.array([0.5, -0.5]),
                                         np.array([1.0, 2.0])))


def test_empty_input():
    got = w.grad(np.zeros((0, 4), np.float32), np.zeros((0, 4), np.float32), 2.0)
    assert got.shape == (0, 4) and got.dtype == np.float32


@pytest.mark.parametrize("fn", FUNCS)
def test_noncontiguous_and_negative_strides(fn):
    z, x = _data((20, 30))
    q = rng.random(30) + 0.5
    for view in (np.s_[::2, ::3], np.s_[::-1, :], np.s_[:, ::-1], np.s_[3:17, 5]):
        got = fn(z[view], x[view], q[view[1:]] if isinstance(view[1], slice) else q[view[1]])
        want = _expected(fn, z[view], x[view],
                         q[view[1:]] if isinstance(view[1], slice) else q[view[1]], np.float64)
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(fn(z.T, x.T, 2.0), _expected(fn, z.T, x.T, 2.0, np.float64))


def test_read_only_inputs():
    z, x = _data(100)
    z.flags.writeable = x.flags.writeable = False
    np.testing.assert_array_equal(w.loss(z, x, 2.0), _expected(w.loss, z, x, 2.0, np.float64))


# --- out= -------------------------------------------------------------------------

@pytest.mark.parametrize("fn", FUNCS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_strided_out_with_contiguous_inputs(fn, dtype):
    # numba 0.68's ufunc loop writes such an out as if it were contiguous.
    z, x = _data((8, 10), dtype)
    base = np.full((8, 20), -7.0, dtype)
    out = base[:, ::2]
    result = fn(z, x, 2.0, out=out)
    assert result is out
    np.testing.assert_array_equal(out, _expected(fn, z, x, 2.0, dtype))
    np.testing.assert_array_equal(base[:, 1::2], -7.0)  # untouched outside the view


def test_numba_strided_out_bug_is_real():
    """Documents why the dispatcher never hands numba a strided out."""
    z, x = _data(10)
    base = np.zeros(20)
    w.cpu.loss(z, x, np.ones(10), out=base[::2])
    if not np.any(base[1::2]):
        pytest.skip("this numba writes strided out= correctly")
    assert np.any(base[1::2])


@pytest.mark.parametrize("n", [1000, 100_000])  # serial and parallel loops
@pytest.mark.parametrize("fn", FUNCS)
def test_out_aliasing_an_input(fn, n):
    z, x = _data(n)
    want = _expected(fn, z, x, 3.0, np.float64)
    x2 = x.copy()
    assert fn(z, x2, 3.0, out=x2) is x2
    np.testing.assert_array_equal(x2, want)
    # partial overlap: NumPy semantics are "as if the inputs were copied
    # first" -- the output one element after or before the input, the labels
    # or logits, or a same-shape pos_weight
    for shift in (1, -1):
        buf = np.zeros(n + 1)
        src, dst = (buf[:-1], buf[1:]) if shift == 1 else (buf[1:], buf[:-1])
        src[:] = x
        assert fn(z, src, 3.0, out=dst) is dst
        np.testing.assert_array_equal(dst, want)
        src[:] = z
        fn(src, x, 3.0, out=dst)
        np.testing.assert_array_equal(dst, want)
        src[:] = 3.0
        fn(z, x, src, out=dst)
        np.testing.assert_array_equal(dst, want)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kernel_maps_pages", [True, False])
def test_large_new_outputs(dtype, kernel_maps_pages, monkeypatch):
    # above MAP_PAGES_MIN_BYTES the pages of a new output are mapped first:
    # by madvise where the kernel can, else by the touch loop
    if not kernel_maps_pages:
        monkeypatch.setattr(cpu, "_madvise", None)
    n = _host.MAP_PAGES_MIN_BYTES // np.dtype(dtype).itemsize + 12345
    z, x = _data(n, dtype)
    loss, grad = w.loss_and_grad(z, x, 3.0)
    np.testing.assert_array_equal(loss, _expected(w.loss, z, x, 3.0, dtype))
    np.testing.assert_array_equal(grad, _expected(w.grad, z, x, 3.0, dtype))
    np.testing.assert_array_equal(w.hessian(z, x, 3.0), _expected(w.hessian, z, x, 3.0, dtype))


@pytest.mark.parametrize("n", [1000, 100_000])
def test_loss_and_grad_out_overlapping_an_input(n):
    z, x = _data(n)
    want = _expected(w.loss, z, x, 2.0, np.float64), _expected(w.grad, z, x, 2.0, np.float64)
    buf = np.zeros(n + 1)
    buf[:-1] = x
    grad_out = np.empty(n)
    loss, grad = w.loss_and_grad(z, buf[:-1], 2.0, out=(buf[1:], grad_out))
    np.testing.assert_array_equal(loss, want[0])
    np.testing.assert_array_equal(grad, want[1])


def test_out_with_other_dtype_and_order():
    z, x = _data((6, 7), np.float32)
    out = np.empty((6, 7), np.float64, order="F")
    w.loss(z, x, 2.0, out=out)
    np.testing.assert_array_equal(out, w.loss(z, x, 2.0).astype(np.float64))
    with pytest.raises(TypeError, match="out"):
        w.loss(z, x, 2.0, out=np.empty((6, 7), np.int32))


def test_bad_out():
    z, x = _data(5)
    ro = np.empty(5)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="out.*read-only"):
        w.loss(z, x, out=ro)
    with pytest.raises(ValueError, match=r"out.*\(4,\).*\(5,\)"):
        w.loss(z, x, out=np.empty(4))
    with pytest.raises(TypeError, match="out"):
        w.loss(z, x, out=[0.0] * 5)
    with pytest.raises(TypeError, match="out"):
        w.loss_and_grad(z, x, out=np.empty(5))


def test_loss_and_grad_out_pair():
    z, x = _data(300)
    lo, gr = np.empty(300), np.empty(300)
    res = w.loss_and_grad(z, x, 2.0, out=(lo, gr))
    assert res[0] is lo and res[1] is gr
    np.testing.assert_array_equal(lo, w.loss(z, x, 2.0))
    np.testing.assert_array_equal(gr, w.grad(z, x, 2.0))


def test_masked_arrays_are_refused():
    z, x = _data(4)
    with pytest.raises(TypeError, match="logits.*masked"):
        w.loss(z, np.ma.masked_array(x, mask=[0, 1, 0, 0]))


@pytest.mark.parametrize("dtype", [">f8", ">f4", ">i8", "<f4"])
def test_non_native_byte_order(dtype):
    z = np.array([0, 1, 1, 0, 1], dtype=dtype)
    x = np.array([-3.0, 0.5, 2.0, 40.0, -1e3]).astype(dtype)
    want = w.loss(z.astype(z.dtype.newbyteorder("=")), x.astype(x.dtype.newbyteorder("=")), 2.0)
    np.testing.assert_array_equal(w.loss(z, x, 2.0), want)
    np.testing.assert_array_equal(w.grad(z, x, np.full(5, 2.0, dtype)), w.grad(z, x, 2.0))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="madvise: Linux only")
def test_map_pages_leaves_the_contents_alone():
    # MADV_POPULATE_WRITE maps pages without writing to them; the touch loop
    # (the fallback) writes 0 to the first element of every page
    a = np.full(3 * 2**20 + 5, 7.0)
    cpu.map_pages(a[1:])
    if cpu._madvise is None:
        pytest.skip("this kernel has no MADV_POPULATE_WRITE (Linux < 5.14)")
    assert np.all(a == 7.0)


def test_map_pages_falls_back_to_touching_each_page(monkeypatch):
    def refuse(address, length, advice):
        ctypes.set_errno(errno.EINVAL)  # as a kernel before 5.14 answers
        return -1

    monkeypatch.setattr(cpu, "_madvise", refuse)
    a = np.full(3 * 2**20 + 5, 7.0)
    cpu.map_pages(a)
    step = mmap.PAGESIZE // a.itemsize
    assert np.all(a[::step] == 0) and np.all(np.delete(a, np.s_[::step]) == 7.0)
    assert cpu._madvise is None  # not asked again
