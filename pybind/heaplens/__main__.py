"""``python -m heaplens demo | run | diff | attach | show``: see heaplens.cli."""

import sys

from heaplens.cli import main

if __name__ == "__main__":
    sys.exit(main())
