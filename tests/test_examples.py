import importlib
import os
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_example(name, *args):
    return subprocess.run([sys.executable, os.path.join(ROOT, "examples", name), *args],
                          capture_output=True, text=True, timeout=600, check=True).stdout


def test_quickstart():
    out = run_example("quickstart.py")
    assert "mean loss per class" in out
    before, after = (float(v) for v in out.split("after one step: ")[1].split()[0:3:2])
    assert after < before
    assert "loss(z=0, x=-58.25) = 5.039" in out


def test_logistic_regression_digits_trades_precision_for_recall():
    pytest.importorskip("sklearn")
    out = run_example("logistic_regression_digits.py", "--steps", "150")
    rows = [line for line in out.splitlines() if line.startswith("pos_weight=")]
    recall = [float(line.split("recall")[1].split()[0]) for line in rows]
    precision = [float(line.split("precision")[1].split()[0]) for line in rows]
    assert len(rows) == 4
    assert recall[-1] > recall[0] and precision[-1] < precision[0]


def test_demo_command_and_plot(tmp_path):
    pytest.importorskip("sklearn")
    args = [sys.executable, "-m", "wcel_numba", "demo", "--steps", "100",
            "--pos-weights", "0.5,1,10"]
    try:
        import matplotlib  # noqa: F401
        args += ["--plot", str(tmp_path / "pr.png")]
    except ImportError:
        pass
    out = subprocess.run(args, capture_output=True, text=True, timeout=600, check=True).stdout
    table = [line for line in out.splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert [line.split("|")[1].strip() for line in table] == ["0.5", "1", "10"]
    recalls = [float(line.split("|")[3]) for line in table]
    assert recalls[-1] >= recalls[0]
    if "--plot" in args:
        assert (tmp_path / "pr.png").stat().st_size > 1000


@pytest.mark.parametrize("library, example", [("xgboost", "xgboost_objective"),
                                              ("lightgbm", "lightgbm_objective")])
def test_custom_objective_matches_builtin_scale_pos_weight(library, example):
    pytest.importorskip(library)
    sys.path.insert(0, os.path.join(ROOT, "examples"))
    try:
        module = importlib.import_module(example)
    finally:
        sys.path.pop(0)
    X, y = module.imbalanced_data(n=800)
    for q in (1.0, 9.0):
        custom, builtin = module.train_both(X, y, q, rounds=15)
        assert np.abs(custom - builtin).max() <= 1e-4
    assert "pos_weight=9" in run_example(f"{example}.py")


def test_dask_example():
    pytest.importorskip("distributed")
    out = run_example("dask_example.py", "--rows", "20000")
    got = float(out.split("mean loss:")[1].split()[0])
    want = float(out.split("same on one machine:")[1].split()[0])
    assert abs(got - want) <= 1e-12 * abs(want)


def test_info_and_bench_commands():
    info = subprocess.run([sys.executable, "-m", "wcel_numba", "info"], capture_output=True,
                          text=True, timeout=600, check=True).stdout
    assert "numba" in info and "threading layer:" in info and "CUDA:" in info
    bench = subprocess.run([sys.executable, "-m", "wcel_numba", "bench", "--sizes", "1e3",
                            "--threads", "1", "--dtypes", "float32", "--repeat", "1"],
                           capture_output=True, text=True, timeout=600, check=True).stdout
    rows = [line.split("|") for line in bench.splitlines() if line.startswith("| float32")]
    cases = {row[4].strip(): float(row[6]) for row in rows}
    assert cases["floor (np.add)"] == 1.0
    assert {"loss", "grad", "loss_and_grad", "loss, per-class pos_weight"} <= set(cases)
    assert all(ratio > 0 for ratio in cases.values())
    assert "10-element call" in bench
    # the README's summary of the same run: the loss row repeats the table's ratios
    summary = bench.split("The README's table:")[1]
    loss_row = next(line for line in summary.splitlines() if "**wcel_numba loss**" in line)
    new, out = (float(v.strip(" ×")) for v in loss_row.split("|")[2].split("/"))
    assert (new, out) == (cases["loss"], cases["loss, out="])
    speedup = next(line for line in summary.splitlines() if "speed-up" in line)
    assert "(NumPy, TF formula)" in speedup or "(PyTorch)" in speedup or "(JAX jit)" in speedup
