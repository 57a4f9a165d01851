"""Settings for the bench's server processes: the project's settings plus the ingest mode under test.

``BENCH_INGEST_MODE=queued`` runs the tracking endpoints in identity's queued mode (durable accept,
processing by django-q2 workers); anything else leaves the project's default.
"""

import os

from config.settings import *  # noqa: F403

if os.environ.get("BENCH_INGEST_MODE"):
    INGEST_MODE = os.environ["BENCH_INGEST_MODE"]

# The bench measures capacity, not the limiter: the counters still run on every request (their cost
# is part of a request's), but the limits are far above what one bench token or write key sends.
ATTUNE_RATE_LIMITS = {**ATTUNE_RATE_LIMITS, "write_key": "100000000/60", "profile_token": "100000000/60"}  # noqa: F405
