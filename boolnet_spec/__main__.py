"""``python -m boolnet_spec``: the same as the ``boolnet-spec`` command."""

import sys

from boolnet_spec.cli import main

sys.exit(main())
