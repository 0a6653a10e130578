"""``python -m sslts``: the same command line as the ``sslts`` script."""

import sys

from sslts.cli import main

sys.exit(main())
