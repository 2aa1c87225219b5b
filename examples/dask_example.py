"""When one machine is not enough: Dask arrays, lazily, on a cluster.

Every wcel_numba function accepts Dask arrays and returns Dask arrays; the
reductions sum per chunk and combine.  Here a LocalCluster with two worker
processes stands in for a real cluster -- to use one, connect the Client to
its scheduler address instead (``Client("tcp://scheduler:8786")``); each
worker needs wcel_numba installed.  Dask arrays of CuPy chunks run on the
workers' GPUs.

Run:  python examples/dask_example.py [--rows 200000]
"""

import argparse

import dask.array as da
import numpy as np
from distributed import Client, LocalCluster

import wcel_numba

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    args = parser.parse_args()
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster, \
            Client(cluster):
        logits = da.random.default_rng(0).standard_normal((args.rows, 20), chunks=(50_000, 20))
        labels = (da.random.default_rng(1).random((args.rows, 20), chunks=(50_000, 20))
                  < 0.05).astype(np.float64)
        pos_weight = np.full(20, 19.0)
        mean, grad = wcel_numba.reduce_loss_and_grad(labels, logits, pos_weight)  # lazy
        print("chunks:", logits.npartitions, " mean loss:", float(mean.compute()),
              " |grad| max:", float(abs(grad).max().compute()))
        check = wcel_numba.reduce_loss(labels.compute(), logits.compute(), pos_weight)
        print("same on one machine:", float(check))
