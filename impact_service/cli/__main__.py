"""``python -m impact_service.cli``: the ``gridimpact`` command with this interpreter."""

import sys

from impact_service.cli import main

sys.exit(main())
