"""`python -m kate.collector` is the `kate` command."""

from __future__ import annotations

import sys

from kate.collector.cli import main

sys.exit(main())
