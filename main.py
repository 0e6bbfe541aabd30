"""Launch XRayDesk from a source checkout: `python main.py [PATH ...]`."""

import sys

from xraydesk.cli import main

if __name__ == "__main__":
    sys.exit(main())
