import os
import subprocess
import sys

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
