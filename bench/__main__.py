"""``python -m bench [--quick] [--scenarios P1,P2,...] [--n N] ...``"""

import sys

from bench.cli import main

sys.exit(main())
