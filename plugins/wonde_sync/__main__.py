"""Entry point of ``python -m wonde_sync``."""

import sys

from wonde_sync.cli import main

sys.exit(main())
