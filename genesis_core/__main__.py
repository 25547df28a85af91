"""``python -m genesis_core`` is the ``genesis`` command."""

import sys

from genesis_core.cli.main import main

sys.exit(main())
