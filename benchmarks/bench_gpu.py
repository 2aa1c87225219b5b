"""GPU benchmark: wcel_numba beside a device-to-device floor, CuPy and PyTorch.

For float32 and float64 at 1e6 ... 1e9 elements: loss, grad and loss_and_grad
with a scalar and a per-class (100,) pos_weight, timed with CUDA events (best
of N) in one run beside the floor -- a kernel that reads the same two arrays
and writes one (loss_and_grad: two reads, two writes, floor counted twice) --
and, when installed, CuPy's elementwise TF formula and
torch.nn.functional.binary_cross_entropy_with_logits.  Prints the achieved
fraction of the floor's bandwidth.  Finishes in well under 5 minutes.

Run:  python benchmarks/bench_gpu.py [--max-size 1e9] [--repeat 10]
"""

import argparse
import sys

import numpy as np


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--max-size", type=float, default=1e9)
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args(argv)
    from numba import cuda
    if not cuda.is_available():
        print("no CUDA GPU: GPU figures are pending")
        return 0
    import wcel_numba

    @cuda.jit
    def floor_kernel(a, b, out):
        start, step = cuda.grid(1), cuda.gridsize(1)
        for i in range(start, out.size, step):
            out[i] = a[i] + b[i]

    def timed(fn):
        fn()
        cuda.synchronize()
        best = float("inf")
        for _ in range(args.repeat):
            start, end = cuda.event(), cuda.event()
            start.record()
            fn()
            end.record()
            end.synchronize()
            best = min(best, cuda.event_elapsed_time(start, end) / 1e3)
        return best

    try:
        import cupy as cp
        tf_formula = cp.ElementwiseKernel(
            "T z, T x, T q", "T out",
            "out = (1 - z) * x + (1 + (q - 1) * z) * (log1p(exp(-fabs(x))) + max(-x, (T)0))",
            "tf_formula")
    except ImportError:
        cp = None
    try:
        import torch
        bce = torch.nn.functional.binary_cross_entropy_with_logits
    except ImportError:
        torch = None

    device = cuda.get_current_device()
    print(f"# {device.name.decode() if isinstance(device.name, bytes) else device.name}")
    print("| dtype | n | case | time | × floor | % of floor bandwidth |")
    print("|---|---|---|---|---|---|")
    sizes = [s for s in (1e6, 1e7, 1e8, 1e9) if s <= args.max_size]
    for dtype in (np.float32, np.float64):
        for n in (int(s) for s in sizes):
            rng = np.random.default_rng(0)
            x = cuda.to_device((rng.standard_normal(n // 100 * 100) * 4).astype(dtype))
            n = x.size
            z = cuda.to_device((rng.random(n) < 0.3).astype(dtype))
            qc = cuda.to_device((rng.random(100) + 0.5).astype(dtype))
            out, out2 = cuda.device_array(n, dtype), cuda.device_array(n, dtype)
            blocks = device.MULTIPROCESSOR_COUNT * 32
            floor = timed(lambda: floor_kernel[blocks, 256](x, z, out))
            x2, z2, out_2d = x.reshape(n // 100, 100), z.reshape(n // 100, 100), \
                out.reshape(n // 100, 100)
            cases = {
                "floor (a + b)": (floor, floor),
                "loss": (timed(lambda: wcel_numba.loss(z, x, 3.0, out=out)), floor),
                "grad": (timed(lambda: wcel_numba.grad(z, x, 3.0, out=out)), floor),
                "loss_and_grad": (timed(lambda: wcel_numba.loss_and_grad(
                    z, x, 3.0, out=(out, out2))), 2 * floor),
                "loss, per-class pos_weight": (timed(lambda: wcel_numba.loss(
                    z2, x2, qc, out=out_2d)), floor),
            }
            if cp is not None:
                xc, zc, oc = cp.asarray(x), cp.asarray(z), cp.asarray(out)
                cases["CuPy, TF formula"] = (timed(lambda: tf_formula(zc, xc, dtype(3.0), oc)),
                                             floor)
            if torch is not None and torch.cuda.is_available():
                xt, zt = torch.as_tensor(x, device="cuda"), torch.as_tensor(z, device="cuda")
                qt = torch.tensor(3.0, dtype=xt.dtype, device="cuda")
                cases["PyTorch BCE"] = (timed(lambda: bce(xt, zt, pos_weight=qt,
                                                          reduction="none")), floor)
            for case, (seconds, ref) in cases.items():
                print(f"| {np.dtype(dtype).name} | {n:.0e} | {case} | {seconds * 1e3:.3f} ms | "
                      f"{seconds / ref:.2f} | {100 * ref / seconds:.0f}% |")
            # free the device arrays before the next size (the lambdas hold them)
            x = z = out = out2 = x2 = z2 = out_2d = cases = xc = zc = oc = xt = zt = None
    return 0


if __name__ == "__main__":
    sys.exit(main())
