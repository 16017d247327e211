"""Entry point of ``python -m wonde_sync``."""

import sys

from wonde_sync.admin.cli import main

sys.exit(main())
