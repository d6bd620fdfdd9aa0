"""``python -m trustyard``."""

import sys

from trustyard.cli.main import main

sys.exit(main())
