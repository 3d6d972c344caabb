"""``python -m tfpt ...`` runs the command line."""

import sys

import tfpt  # noqa: F401  (the import-order guard runs first)
from tfpt.cli import main

sys.exit(main())
