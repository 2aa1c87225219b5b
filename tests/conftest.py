import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

CUDASIM = os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"

if CUDASIM:
    import cudasim_shim
    cudasim_shim.apply()


def pytest_collection_modifyitems(config, items):
    skip_sim = pytest.mark.skip(reason="needs NUMBA_ENABLE_CUDASIM=1 (run by .ci/run)")
    for item in items:
        if "cudasim" in item.keywords and not CUDASIM:
            item.add_marker(skip_sim)
