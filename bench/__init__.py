"""Reproducible benchmarks (not tests): each ``python -m bench.<name>`` prints a table and writes
``bench/results/<name>.json`` (see ``docs/performance.md``)."""
