"""``python -m sklearn_fairif``: the ``fairif`` command line."""

import sys

from ._cli import main

if __name__ == "__main__":
    sys.exit(main())
