"""``python -m tfnas``: the same as the ``tfnas`` command."""

import sys

from tfnas.cli import main

sys.exit(main())
