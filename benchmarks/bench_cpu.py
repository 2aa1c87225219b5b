"""CPU benchmark; same as `python -m wcel_numba bench`. Writes the README table."""

import sys

from wcel_numba._bench import main

if __name__ == "__main__":
    main(sys.argv[1:])
