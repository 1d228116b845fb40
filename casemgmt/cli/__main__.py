"""`python -m casemgmt.cli`: the `casemgmt` command."""

import sys

from casemgmt.cli import main

sys.exit(main())
