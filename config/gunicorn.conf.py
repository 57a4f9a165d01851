"""Production web server settings: ``gunicorn -c config/gunicorn.conf.py config.wsgi``.

Worker model: gevent. Each connection is a greenlet, so a client that opens a socket and sends its
headers slowly (or never) holds a few kilobytes of memory, not a worker or a thread: hundreds of slow
clients do not stop normal requests (tests/config/test_slow_clients.py). Sync workers block one
process per slow client and gthread workers block one thread per client that has sent a first byte,
so a handful of slow sockets starve them. See docs/deployment.md for the reasoning and the knobs.

Every setting can be changed by environment variable (or a gunicorn flag after ``-c``).
"""

import os

bind = os.environ.get("GUNICORN_BIND", f"0.0.0.0:{os.environ.get('PORT', '8000')}")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "gevent"
# Open connections per worker (slow or idle clients included) before new ones wait in the backlog.
worker_connections = int(os.environ.get("GUNICORN_WORKER_CONNECTIONS", "1000"))
# A request still running after this many seconds has its worker restarted.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = 30
keepalive = 5
# The biggest tracking batch is INGEST_MAX_BODY_BYTES; headers stay within gunicorn's defaults.
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-") or None  # "" turns it off
# Under gevent each request runs in its own greenlet: a per-thread persistent connection (CONN_MAX_AGE)
# would be one per greenlet, left to the garbage collector. Instead each worker keeps a pool of open
# connections that requests borrow (DATABASE_POOL_SIZE, config/settings.py); requests beyond it wait
# for a free one. Keep workers x pool size under PostgreSQL's max_connections.
os.environ.setdefault("DATABASE_POOL_SIZE", "20")
os.environ.setdefault("CONN_MAX_AGE", "0")
# Behind a TLS-terminating proxy on another host, list its address so X-Forwarded-* is believed.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")


def post_worker_init(worker):
    """Exempt the objects a worker holds once the app is loaded (Django's apps, models, URL patterns,
    settings: about 135,000) from the garbage collector's full passes. Python's oldest-generation
    collection walks every tracked object; with them it took 150-180 ms at size M, and under gevent
    every request of the worker waits for it: it was the /v1/actions p99. Objects made later are
    collected as before (docs/deployment.md, "Garbage collection")."""
    import gc

    gc.collect()
    gc.freeze()
    worker.log.info(
        "Worker %s: %d objects left out of full garbage collections", worker.pid, gc.get_freeze_count()
    )
