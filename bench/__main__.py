"""``python -m bench run --size M [--only ingest,profile_api] [--smoke]``; see docs/performance.md."""

from __future__ import annotations

import sys

from bench.runner import main

if __name__ == "__main__":
    sys.exit(main())
