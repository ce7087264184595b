"""``python -m shenjing`` is the ``shenjing`` command."""

import sys

from shenjing.cli import main

sys.exit(main())
