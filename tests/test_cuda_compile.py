"""Real CUDA code generation without a GPU: PTX for sm_80 and sm_90, linked by
nvJitLink, checked for spills, double precision in float32 code, calls that
were not inlined, and 64-bit indexing.  Needs numba-cuda[cu13]."""

import os
import re
from unittest import mock

import numpy as np
import pytest

pytestmark = pytest.mark.cuda_compile

if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
    pytest.skip("code generation is not simulated", allow_module_level=True)
cuda = pytest.importorskip("numba.cuda")
nvjitlink = pytest.importorskip("cuda.bindings.nvjitlink")

from numba import types  # noqa: E402
from numba.np.numpy_support import from_dtype  # noqa: E402

from wcel_numba import _cuda_target  # noqa: E402

CCS = [(8, 0), (9, 0)]
DTYPES = [np.float32, np.float64]


class _Device:
    """What the compiler asks of the current device while compiling a kernel
    that calls other jitted functions."""

    def __init__(self, cc):
        self.compute_capability = cc
        self.id = 0


def compile_ptx(pyfunc, sig, cc, device=False):
    from numba.cuda import dispatcher
    with mock.patch.object(dispatcher, "get_current_device", lambda: _Device(cc)):
        ptx, _ = cuda.compile_ptx(pyfunc, sig, cc=cc, device=device)
    return ptx


def link_info(ptx, cc):
    """nvJitLink's verbose log of linking the PTX to a cubin."""
    handle = nvjitlink.create(2, [f"-arch=sm_{cc[0]}{cc[1]}", "-verbose"])
    try:
        data = ptx.encode()
        nvjitlink.add_data(handle, nvjitlink.InputType.PTX, data, len(data), "wcel")
        nvjitlink.complete(handle)
        log = bytearray(nvjitlink.get_info_log_size(handle))
        nvjitlink.get_info_log(handle, log)
        return log.decode(errors="replace")
    finally:
        nvjitlink.destroy(handle)


def check(ptx, cc, dtype, kernel=True):
    instructions = [line for line in ptx.splitlines()
                    if line.strip() and not line.strip().startswith(("//", "."))]
    body = "\n".join(instructions)
    if dtype == np.float32:
        f64 = sorted(set(re.findall(r"\b\w+(?:\.\w+)*\.f64\b", body)))
        assert not f64, f"double-precision instructions in float32 code: {f64}"
    assert not re.search(r"^\s*call", body, re.M), "a call was not inlined"
    if kernel:
        assert re.search(r"setp\.\w+\.s64", body), "grid-stride loop is not 64-bit"
        log = link_info(ptx, cc)
        spills = re.findall(r"(\d+) bytes spill stores", log)
        assert spills and all(s == "0" for s in spills), log


def _array(dtype, ndim=1, layout="C"):
    return types.Array(from_dtype(np.dtype(dtype)), ndim, layout)


@pytest.mark.parametrize("cc", CCS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["loss", "grad", "grad_labels", "hessian", "loss_and_grad"])
def test_flat_kernels(name, dtype, cc):
    real = from_dtype(np.dtype(dtype))
    arr = _array(dtype)
    out = types.UniTuple(arr, 2) if name == "loss_and_grad" else arr
    kernel = _cuda_target.flat_kernel(name, dtype)
    for q in (real, arr):  # scalar and array pos_weight
        check(compile_ptx(kernel.py_func, (arr, arr, q, out, types.int64), cc), cc, dtype)


@pytest.mark.parametrize("cc", CCS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["loss", "grad", "grad_labels", "hessian"])
def test_strided_kernels(name, dtype, cc):
    arr = _array(dtype, 1, "A")
    strides = types.UniTuple(types.int64, 2)
    operand = (arr, types.int64, strides)
    sig = (*operand, *operand, from_dtype(np.dtype(dtype)), types.int64, strides,
           *operand, strides, types.int64)
    kernel = _cuda_target.strided_kernel(name, dtype)
    check(compile_ptx(kernel.py_func, sig, cc), cc, dtype)


@pytest.mark.parametrize("cc", CCS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["loss", "grad", "grad_labels", "hessian"])
def test_ufunc_cores(name, dtype, cc):
    real = from_dtype(np.dtype(dtype))
    ptx = compile_ptx(_cuda_target.ufunc_core(name), real(real, real, real), cc, device=True)
    check(ptx, cc, dtype, kernel=False)


@pytest.mark.parametrize("cc", CCS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("outputs", ["none", "grad", "loss and grad"])
def test_reduction_kernels(outputs, dtype, cc):
    real = from_dtype(np.dtype(dtype))
    arr = _array(dtype, 1, "A")
    strides = types.UniTuple(types.int64, 2)
    operand = (arr, types.int64, strides)
    out = _array(dtype)
    loss_out = out if outputs == "loss and grad" else types.none
    grad_out = types.none if outputs == "none" else out
    partial_sums, finish = _cuda_target.reduce_kernels(dtype)
    sig = (*operand, *operand, *operand, *operand, real, real, real, loss_out, grad_out,
           strides, types.int64, _array(np.float64))
    # float64 accumulation is intended here: check spills, calls and 64-bit indexing
    check(compile_ptx(partial_sums.py_func, sig, cc), cc, np.float64)
    check(compile_ptx(finish.py_func, (_array(np.float64), types.float64,
                                       _array(dtype)), cc), cc, np.float64, kernel=False)


@pytest.mark.parametrize("cc", CCS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["loss", "grad", "grad_labels", "hessian", "loss_and_grad"])
def test_rows_kernels(name, dtype, cc):
    real = from_dtype(np.dtype(dtype))
    full, row = _array(dtype, 2), _array(dtype, 1)
    out = types.UniTuple(full, 2) if name == "loss_and_grad" else full
    kernel = _cuda_target.rows_kernel(name, dtype)
    for q in (row, real):  # per-class and scalar pos_weight
        check(compile_ptx(kernel.py_func, (full, full, q, out, types.int64, types.int64), cc),
              cc, dtype)
