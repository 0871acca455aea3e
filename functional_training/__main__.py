"""``python -m functional_training``: see :mod:`functional_training.cli`."""

import sys

from functional_training.cli import main

sys.exit(main())
