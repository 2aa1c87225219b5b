"""Command line: python -m wcel_numba {demo,bench,info}."""

import sys


def info():
    import platform

    import numba
    import numpy as np

    import wcel_numba
    from wcel_numba import cpu
    print(f"wcel_numba {wcel_numba.__version__}  numba {numba.__version__}  "
          f"numpy {np.__version__}  python {platform.python_version()}")
    try:
        from numba.misc.numba_sysinfo import get_sysinfo
        features = get_sysinfo().get("CPU Features", "")
        print("CPU:", platform.machine(), " AVX-512" if "avx512f" in features else
              (" AVX2" if "avx2" in features else ""))
    except Exception:  # pragma: no cover - informational only
        print("CPU:", platform.machine())
    import numpy as np
    x = np.zeros(1 << 16)  # large enough for the parallel loop: starts the threading layer
    wcel_numba.loss(x, x)
    try:
        layer = numba.threading_layer()
    except ValueError:
        layer = "none started (serial loops)"
    print("threads:", numba.get_num_threads(), " threading layer:", layer,
          f"(NUMBA_THREADING_LAYER={numba.config.THREADING_LAYER})")
    print("compile cache:", numba.config.CACHE_DIR or "next to the package (__pycache__)",
          f"[{cpu.__file__}]")
    from wcel_numba import _dispatch
    print("CUDA:", _dispatch.cuda_status())


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    command = argv[0] if argv else "help"
    if command == "demo":
        from wcel_numba import demo
        return demo.main(argv[1:])
    if command == "bench":
        from wcel_numba import _bench
        _bench.main(argv[1:])
    elif command == "info":
        info()
    else:
        print(__doc__)
        print("  demo    the main job: class-imbalanced logistic regression, precision/recall")
        print("          per pos_weight (needs scikit-learn; --plot FILE.png needs matplotlib)")
        print("  bench   CPU benchmark against the memory floor and alternatives")
        print("  info    versions, CPU features, threads, cache, CUDA")
        return 0 if command in ("help", "-h", "--help") else 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
