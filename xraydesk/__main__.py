"""`python -m xraydesk [PATH ...]`, the command the installed desktop entry runs."""

import sys

from xraydesk.cli import main

sys.exit(main())
