"""Attune's benchmark suite: ``python -m bench run --size M``.

Generates a deterministic data set, loads it with COPY into a dedicated database, runs the
workloads (HTTP through gunicorn, Python services) next to raw-SQL reference probes measured in the
same run, and writes a markdown table plus ``bench/results/latest.json``. See docs/performance.md.
"""
