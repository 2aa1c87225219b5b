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
  float64).
"""

import numpy as np


class _HostMemory:
    def __init__(self, interface):
        self.__array_interface__ = interface


def apply():
    from numba import cuda
    from numba.cuda.simulator import kernel
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
