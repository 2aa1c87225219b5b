"""reduce_loss and reduce_loss_and_grad ('mean') beside loss_and_grad: 1e7
elements, scalar pos_weight, one and two threads, best of 7, in ms.

Run:  python benchmarks/bench_reductions.py [CHECKOUT]
CHECKOUT: a wcel_numba checkout to import instead of the installed one (for
A/B runs in alternating processes).
"""
import sys

if len(sys.argv) > 1:
    sys.path.insert(0, sys.argv[1])

import numba  # noqa: E402
import numpy as np  # noqa: E402

import wcel_numba  # noqa: E402
from wcel_numba._bench import best_time  # noqa: E402


def main(n=10**7, repeat=7):
    rng = np.random.default_rng(0)
    print("| threads | dtype | reduce_loss | reduce_loss_and_grad | loss_and_grad |")
    print("|---|---|---|---|---|")
    for threads in (1, 2):
        numba.set_num_threads(threads)
        for dtype in (np.float32, np.float64):
            x = (rng.standard_normal(n) * 4).astype(dtype)
            z = (rng.random(n) < 0.3).astype(dtype)
            seconds = [best_time(lambda: wcel_numba.reduce_loss(z, x, 3.0), repeat),
                       best_time(lambda: wcel_numba.reduce_loss_and_grad(z, x, 3.0), repeat),
                       best_time(lambda: wcel_numba.loss_and_grad(z, x, 3.0), repeat)]
            print(f"| {threads} | {np.dtype(dtype).name} | "
                  + " | ".join(f"{t * 1e3:.1f} ms" for t in seconds) + " |")


if __name__ == "__main__":
    main()
