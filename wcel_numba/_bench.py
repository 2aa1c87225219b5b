"""CPU benchmark: wcel_numba beside the memory floor and the alternatives.

Everything is timed in one process, best of N, and reported as a ratio to the
floor measured in the same run: ``np.add`` over the same operand bytes into a
preallocated output (two arrays read, one written; for loss_and_grad the floor
is two such adds: two reads, two writes).  Calls that return a new array also
pay for fresh memory (page faults, zeroing by the kernel): the row "np.add,
new output" shows that cost on the floor itself, and the "out=" rows show
wcel_numba on the floor's terms.  Alternatives are timed when installed:
the NumPy transcription of TensorFlow's formula, PyTorch's
``binary_cross_entropy_with_logits(reduction='none')``, JAX ``jit`` and
TensorFlow, in a child process that sees as many CPUs as wcel_numba gets
threads (``_alternatives_on_cores``).
After the full table it prints the README's summary of the largest size
(``summary``), with wcel_numba's speed-up over the fastest alternative.

Run:  python -m wcel_numba bench [--sizes 1e3,1e5,1e7] [--threads 1,2]  (prints the markdown table)
"""

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

import wcel_numba


def best_time(fn, repeat, min_total=0.2):
    """Best of ``repeat`` timings (more repeats for very short calls)."""
    fn()
    best = float("inf")
    start = time.perf_counter()
    count = 0
    while count < repeat or (time.perf_counter() - start < min_total and count < 100_000):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
        count += 1
    return best


def tf_formula_numpy(z, x, q):
    return (1 - z) * x + (1 + (q - 1) * z) * (np.log1p(np.exp(-np.abs(x))) + np.maximum(-x, 0))


def _alternatives(z, x, q, threads):
    """{name: zero-argument callable} for the anchors that are installed."""
    alts = {"NumPy, TF formula": lambda: tf_formula_numpy(z, x, q)}
    try:
        import torch
        torch.set_num_threads(threads)
        zt, xt = torch.from_numpy(z), torch.from_numpy(x)
        qt = torch.tensor(q, dtype=xt.dtype)
        bce = torch.nn.functional.binary_cross_entropy_with_logits
        alts["PyTorch"] = lambda: bce(xt, zt, pos_weight=qt, reduction="none")
    except ImportError:
        pass
    try:
        import jax
        import jax.numpy as jnp
        jax.config.update("jax_enable_x64", True)
        f = jax.jit(lambda z, x: (1 - z) * x + (1 + (q - 1) * z)
                    * (jnp.log1p(jnp.exp(-jnp.abs(x))) + jnp.maximum(-x, 0)))
        zj, xj = jnp.asarray(z), jnp.asarray(x)
        alts["JAX jit"] = lambda: f(zj, xj).block_until_ready()
    except ImportError:
        pass
    try:
        import tensorflow as tf
        # names of their own: the lambdas above read zt, xt when called
        z_tf, x_tf = tf.constant(z), tf.constant(x)
        alts["TensorFlow eager"] = lambda: tf.nn.weighted_cross_entropy_with_logits(z_tf, x_tf, q)
        xla = tf.function(jit_compile=True)(
            lambda z, x: tf.nn.weighted_cross_entropy_with_logits(z, x, q))
        alts["TensorFlow XLA"] = lambda: xla(z_tf, x_tf)
    except ImportError:
        pass
    return alts


def _sizes(sizes):
    return [max(100, int(s) // 100 * 100) for s in sizes]


def _dataset(dtype, n):
    """(labels, logits, scalar pos_weight, per-class pos_weight), the same in
    every process for a given (dtype, n)."""
    rng = np.random.default_rng(n)
    x = (rng.standard_normal(n) * 4).astype(dtype)
    z = (rng.random(n) < 0.3).astype(dtype)
    return z, x, 3.0, (rng.random(100) * 4 + 0.5).astype(dtype)


def _row(dtype, n, threads, case, seconds, floor):
    return dict(dtype=dtype, n=n, threads=threads, case=case, seconds=seconds,
                ratio=seconds / floor)


def _alternative_rows(sizes, dtypes, threads, repeat):
    """The alternatives' rows, each ratio to a floor measured beside it."""
    for dtype in dtypes:
        for n in _sizes(sizes):
            z, x, q, __ = _dataset(dtype, n)
            out = np.empty(n, dtype)
            floor = best_time(lambda: np.add(x, z, out=out), repeat)
            for name, fn in _alternatives(z, x, q, threads).items():
                yield _row(dtype, n, threads, name, best_time(fn, max(3, repeat // 2)), floor)


def _alternatives_on_cores(sizes, dtypes, threads, repeat):
    """``_alternative_rows``, run in a child process that sees only
    ``threads`` CPUs (Linux; elsewhere, all of them).

    PyTorch, TensorFlow and XLA size their thread pools from the CPUs they
    see when they start, and TensorFlow's and JAX's cannot be resized later
    (JAX has no setting at all): a child restricted like ``taskset`` runs
    them as they would run on a machine with that many cores.  The child
    restricts itself before it imports any of them (``main``), and its ratios
    are to the floor it measures itself."""
    command = [sys.executable, "-m", "wcel_numba", "bench", "--alternatives-only",
               "--sizes", ",".join(str(s) for s in sizes), "--dtypes", ",".join(dtypes),
               "--threads", str(threads), "--repeat", str(repeat)]
    child = subprocess.run(command, capture_output=True, text=True, check=True)
    return [json.loads(line) for line in child.stdout.splitlines() if line.startswith("{")]


def run(sizes=(1e3, 1e5, 1e7), threads=(1, 2), dtypes=("float32", "float64"), repeat=7):
    """Result rows: dict(dtype, n, threads, case, seconds, ratio), in the
    order (dtype, n, threads): wcel_numba's, then the alternatives'
    (``_alternatives_on_cores``)."""
    import numba
    rows = []
    for dtype in dtypes:
        for n in _sizes(sizes):
            z, x, q, qc = _dataset(dtype, n)
            z2, x2 = z.reshape(-1, 100), x.reshape(-1, 100)
            o1, o2 = np.empty(n, dtype), np.empty(n, dtype)
            o2d = o1.reshape(-1, 100)
            for nthreads in threads:
                numba.set_num_threads(nthreads)
                floor = best_time(lambda: np.add(x, z, out=o1), repeat)
                cases = {
                    "floor (np.add)": (floor, floor),
                    "np.add, new output": (best_time(lambda: np.add(x, z), repeat), floor),
                    "loss": (best_time(lambda: wcel_numba.loss(z, x, q), repeat), floor),
                    "loss, out=": (best_time(lambda: wcel_numba.loss(z, x, q, out=o1), repeat),
                                   floor),
                    "grad": (best_time(lambda: wcel_numba.grad(z, x, q), repeat), floor),
                    "grad, out=": (best_time(lambda: wcel_numba.grad(z, x, q, out=o1), repeat),
                                   floor),
                    "loss_and_grad": (best_time(lambda: wcel_numba.loss_and_grad(z, x, q), repeat),
                                      2 * floor),
                    "loss_and_grad, out=": (best_time(
                        lambda: wcel_numba.loss_and_grad(z, x, q, out=(o1, o2)), repeat),
                        2 * floor),
                    "loss, per-class pos_weight": (best_time(
                        lambda: wcel_numba.loss(z2, x2, qc), repeat), floor),
                    "loss, per-class pos_weight, out=": (best_time(
                        lambda: wcel_numba.loss(z2, x2, qc, out=o2d), repeat),
                        floor),
                }
                rows += [_row(dtype, n, nthreads, case, seconds, ref)
                         for case, (seconds, ref) in cases.items()]
    for nthreads in threads:
        rows += _alternatives_on_cores(sizes, dtypes, nthreads, repeat)
    # stable: wcel_numba's rows first within each (dtype, n, threads)
    rows.sort(key=lambda r: (dtypes.index(r["dtype"]), r["n"], threads.index(r["threads"])))
    return rows


def _pretty_time(seconds):
    return f"{seconds * 1e6:.2f} µs" if seconds < 1e-3 else f"{seconds * 1e3:.2f} ms"


def markdown(rows):
    rows = list(rows)
    lines = ["| dtype | n | threads | case | time | × floor |", "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['dtype']} | {r['n']:.0e} | {r['threads']} | {r['case']} | "
                     f"{_pretty_time(r['seconds'])} | {r['ratio']:.2f} |")
    return "\n".join(lines)


#: The README table's rows for wcel_numba: (label, new-output case, out= case).
_SUMMARY_ROWS = (
    ("**wcel_numba loss**, new output / `out=`", "loss", "loss, out="),
    ("**wcel_numba grad**, new output / `out=`", "grad", "grad, out="),
    ("**wcel_numba loss_and_grad** (vs two floors), new / `out=`",
     "loss_and_grad", "loss_and_grad, out="),
    ("**wcel_numba loss, per-class pos_weight**, new / `out=`",
     "loss, per-class pos_weight", "loss, per-class pos_weight, out="),
)
_ALTERNATIVES = ("JAX jit", "TensorFlow XLA", "TensorFlow eager", "PyTorch", "NumPy, TF formula")


def _pretty_ratio(ratio):
    return f"{ratio:.1f}×" if ratio < 10 else f"{ratio:.0f}×"


def summary(rows):
    """The README's table: the largest size measured, a column per (dtype,
    threads), time as a multiple of that column's floor; the alternatives
    that were timed; and how much faster wcel_numba's loss is than the
    fastest of them (both returning new arrays)."""
    rows = list(rows)
    n = max(r["n"] for r in rows)
    at = {(r["dtype"], r["threads"], r["case"]): r for r in rows if r["n"] == n}
    columns = list(dict.fromkeys((d, t) for d, t, __ in at))

    def cells(fn):
        return " | ".join(fn(d, t) for d, t in columns)

    def ratio(d, t, case):
        r = at.get((d, t, case))
        return f"{r['ratio']:.2f}×" if r else "—"

    def alternative(d, t, case):
        r = at.get((d, t, case))
        return _pretty_ratio(r["ratio"]) if r else "—"

    def speedup(d, t):
        # ratios, each to the floor of its own process (see _alternatives_on_cores)
        timed = [(at[d, t, a]["ratio"], a) for a in _ALTERNATIVES if (d, t, a) in at]
        if not timed or (d, t, "loss") not in at:
            return "—"
        ratio, name = min(timed)
        return f"{ratio / at[d, t, 'loss']['ratio']:.1f}× ({name})"

    lines = [f"n = {n:.0e}", "",
             "| | " + cells(lambda d, t: f"{d}, {t} thread{'s' if t > 1 else ''}") + " |",
             "|---|" + "---|" * len(columns),
             "| floor (np.add) | " + cells(
                 lambda d, t: _pretty_time(at[d, t, "floor (np.add)"]["seconds"])) + " |",
             "| np.add with a new output | " + cells(
                 lambda d, t: ratio(d, t, "np.add, new output")) + " |"]
    for label, new, out in _SUMMARY_ROWS:
        lines.append(f"| {label} | " + cells(
            lambda d, t: f"{ratio(d, t, new)} / {ratio(d, t, out)}") + " |")
    for name in _ALTERNATIVES:
        if any((d, t, name) in at for d, t in columns):
            lines.append(f"| {name} | " + cells(lambda d, t: alternative(d, t, name)) + " |")
    lines.append("| wcel_numba loss: speed-up over the fastest alternative | "
                 + cells(speedup) + " |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m wcel_numba bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1e3,1e5,1e7")
    parser.add_argument("--threads", default="1,2",
                        help="comma-separated thread counts (numba.set_num_threads)")
    parser.add_argument("--dtypes", default="float32,float64")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--alternatives-only", action="store_true",
                        help=argparse.SUPPRESS)  # the child of _alternatives_on_cores
    args = parser.parse_args(argv)
    sizes = [float(s) for s in args.sizes.split(",")]
    threads = [int(t) for t in args.threads.split(",")]
    dtypes = args.dtypes.split(",")
    if args.alternatives_only:
        if hasattr(os, "sched_setaffinity"):  # threads started from now on inherit it
            os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:threads[0]])
        for row in _alternative_rows(sizes, dtypes, threads[0], args.repeat):
            print(json.dumps(row))
        return
    rows = run(sizes=sizes, threads=threads, dtypes=dtypes, repeat=args.repeat)
    print(markdown(rows))
    print("\nThe README's table:\n")
    print(summary(rows))
    x, z = np.zeros(10), np.ones(10)
    wcel_numba.loss(z, x, 3.0)
    small = best_time(lambda: wcel_numba.loss(z, x, 3.0), 2000)
    print(f"\n10-element call: {small * 1e6:.2f} µs "
          f"(np.add: {best_time(lambda: np.add(x, z), 2000) * 1e6:.2f} µs)")
