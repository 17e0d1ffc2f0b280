"""``python -m lattice_client._curl``: the ``lattice-curl`` command."""

import sys

from . import main

sys.exit(main())
