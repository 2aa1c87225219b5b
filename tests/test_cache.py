"""Numba's on-disk cache: a second process compiles nothing."""

import glob
import os
import subprocess
import sys

SCRIPT = """
import numpy as np, wcel_numba
from wcel_numba import cpu
x = np.linspace(-5, 5, 1000); z = (x > 0) * 1.0
wcel_numba.loss(z, x, 2.0)                    # block loop, scalar pos_weight
wcel_numba.grad(z.reshape(10, 100), x.reshape(10, 100), np.ones(100))  # block loop, per-class tile
wcel_numba.hessian(z[::2], x[::2], 3.0)       # ufunc
loops = [cpu.get_loop("loss", False), cpu.get_loop("grad", False)]
print(sum(len(l.stats.cache_misses) for l in loops), sum(len(l.stats.cache_hits) for l in loops))
"""


def _run(cache_dir):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir))
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True,
                         text=True, timeout=600, check=True).stdout
    misses, hits = map(int, out.split())
    return misses, hits, sorted(glob.glob(os.path.join(cache_dir, "**", "*.nbc"), recursive=True))


def test_second_process_loads_everything_from_cache(tmp_path):
    misses1, hits1, files1 = _run(tmp_path)
    misses2, hits2, files2 = _run(tmp_path)
    assert misses1 > 0 and hits1 == 0
    assert misses2 == 0 and hits2 == misses1
    assert files1 and files2 == files1  # ufuncs: nothing recompiled, nothing added
    assert any("hessian" in f for f in files1)
