"""``python -m coach``: see :mod:`coach.cli`."""

import sys

from coach.cli import main

sys.exit(main())
