"""``python -m comparisons``: see :mod:`comparisons.cli`."""

import sys

from comparisons.cli import main

sys.exit(main())
