"""What numba-cuda 0.30's CUDA simulator lacks for wcel_numba's CUDA paths.

Applied only when NUMBA_ENABLE_CUDASIM=1 (see conftest.py).  The simulator
keeps device arrays as NumPy arrays in host memory (``FakeCUDAArray``), so:

* ``FakeCUDAArray.__cuda_array_interface__`` describes that host memory, and
  ``cuda.from_cuda_array_interface`` wraps such a description again without
  copying -- the dispatcher's zero-copy views then work as on a GPU;
* ``cuda.is_cuda_array`` is the test for that attribute;
* ``cuda.external_stream`` returns a simulator stream instead of raising
  (the simulator runs everything synchronously);
* the simulator's overloads have a ``signature``, which ``@vectorize(
  target='cuda')`` reads for the return type when it builds its kernels; the
  simulator does not type anything, so it is taken to be the first argument's
  type -- true for every wcel_numba ufunc (float32 -> float32, float64 ->
  float64);
* ``cuda.fma`` is fused -- rounded once, as on a GPU -- instead of a*b + c
  rounded twice: the float32 kernels' float-float arithmetic
  (``wcel_numba._floatfloat``) relies on fma(a, b, -a*b) being exact;
* a device function whose module does not refer to ``numba.cuda`` is called
  directly.  The simulator otherwise swaps the module's globals for its fake
  ``cuda`` module around every call (rescanning the module's namespace under
  a lock); the float-float arithmetic calls a few hundred device functions
  per element, and that swapping made the simulator tests ~3x slower.  Only
  functions that could not see the fake module anyway skip it.
"""

import math
from fractions import Fraction

import numpy as np


class _HostMemory:
    def __init__(self, interface):
        self.__array_interface__ = interface


def apply():
    from numba import cuda
    from numba.cuda.simulator import kernel, kernelapi
    from numba.cuda.simulator.cudadrv import devicearray

    def cuda_array_interface(self):
        interface = dict(self._ary.__array_interface__)
        interface.update(version=3, stream=None)
        return interface

    def from_cuda_array_interface(desc, owner=None, sync=True):
        host = dict(desc)
        host.pop("stream", None)
        host.pop("mask", None)
        host["version"] = 3
        array = np.asarray(_HostMemory(host))
        if desc["data"][1]:
            array.flags.writeable = False
        return devicearray.FakeCUDAArray(array)

    devicearray.FakeCUDAArray.__cuda_array_interface__ = property(cuda_array_interface)
    cuda.from_cuda_array_interface = from_cuda_array_interface
    cuda.is_cuda_array = lambda obj: hasattr(obj, "__cuda_array_interface__")
    cuda.external_stream = lambda ptr: cuda.stream()
    from numba.core.typing import signature

    def overload_for(self, args):
        overload = kernel.FakeOverload()
        overload.signature = signature(args[0], *args)
        return overload

    kernel.FakeOverloadDict.__getitem__ = overload_for

    simulated_call = kernel.FakeCUDAKernel.__call__
    needs_swap = {}
    from wcel_numba import _cuda_target

    def call(self, *args):
        if self._device:
            if self.fn is _cuda_target._fma:  # cuda.fma itself, without the swap
                return fused_multiply_add(*args)
            globs = self.fn.__globals__
            swap = needs_swap.get(id(globs))
            if swap is None:
                swap = needs_swap[id(globs)] = any(
                    v is cuda or isinstance(v, kernelapi.FakeCUDAModule)
                    for v in list(globs.values()))
            if not swap:
                return self.fn(*args)
        return simulated_call(self, *args)

    kernel.FakeCUDAKernel.__call__ = call
    kernelapi.FakeCUDAModule.fma = lambda self, a, b, c: fused_multiply_add(a, b, c)


def fused_multiply_add(a, b, c):
    """a * b + c rounded once to the type of the operands (float32 if all
    three are float32, else float64), to nearest, ties to even."""
    if not (type(a) is type(b) is type(c) is np.float32):
        if not all(math.isfinite(v) for v in (a, b, c)):
            return a * b + c  # inf or NaN either way
        exact = Fraction(float(a)) * Fraction(float(b)) + Fraction(float(c))
        return np.float64(float(exact))  # Fraction -> float rounds correctly
    # float32: a * b is exact in float64, and s + err = a * b + c exactly
    # (two-sum).  Rounding s to float32 is then right unless s lies exactly
    # halfway between two float32 numbers and err != 0 (double rounding).
    product, addend = float(a) * float(b), float(c)
    s = product + addend
    with np.errstate(over="ignore"):
        rounded = np.float32(s)
    if float(rounded) == s or not math.isfinite(s):
        return rounded
    s_part = s - product
    err = (product - (s - s_part)) + (addend - s_part)
    if err == 0 or not math.isfinite(rounded):
        return rounded
    other = np.nextafter(rounded, np.float32(math.inf if s > float(rounded) else -math.inf))
    if (float(rounded) + float(other)) * 0.5 != s:
        return rounded  # not a tie: the float32 rounding of s is that of s + err
    return other if (err > 0) == (other > rounded) else rounded
