"""``python -m facehub``: the same CLI as the ``facehub`` console script (see facehub/cli.py)."""

import sys

from facehub.cli import main

if __name__ == "__main__":
    sys.exit(main())
