"""Run as a script (one process per threading layer) or imported by
multiprocessing workers: calls wcel_numba from many threads or processes and
checks the results against a serial run, bit for bit."""

import sys
import threading
import time

import numpy as np

import wcel_numba


def make_inputs(n, seed=0):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(n) * 5).astype(np.float32)
    z = (rng.random(n) < 0.3).astype(np.float32)
    return z, x


def compute(args):
    """Worker for multiprocessing: (loss, grad) of one chunk."""
    n, seed = args
    z, x = make_inputs(n, seed)
    return wcel_numba.loss_and_grad(z, x, 2.5)


def hammer_threads(seconds, nthreads=8):
    """nthreads threads call loss/grad on small and large arrays for about
    ``seconds``; returns the number of mismatches against a serial run."""
    cases = [make_inputs(n, seed) for seed, n in enumerate((100, 3000, 200_000))]
    expected = [(wcel_numba.loss(z, x, 2.5), wcel_numba.grad(z, x, 2.5)) for z, x in cases]
    mismatches = []
    calls = [0] * nthreads  # one counter per thread: no lost updates
    stop = time.monotonic() + seconds

    def work(k):
        i = k
        # for about ``seconds``, and at least a full round of the cases each
        while time.monotonic() < stop or i < k + len(cases):
            case = i % len(cases)
            z, x = cases[case]
            loss, grad = wcel_numba.loss_and_grad(z, x, 2.5)
            single = wcel_numba.loss(z, x, 2.5)
            if not (np.array_equal(loss, expected[case][0]) and np.array_equal(single, loss)
                    and np.array_equal(grad, expected[case][1])):
                mismatches.append(case)
            calls[k] += 1
            i += 1

    threads = [threading.Thread(target=work, args=(k,)) for k in range(nthreads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return len(mismatches), sum(calls)


if __name__ == "__main__":
    import numba
    bad, calls = hammer_threads(float(sys.argv[1]) if len(sys.argv) > 1 else 2.0)
    layer = numba.threading_layer()
    print(f"{layer} {bad} {calls}")
