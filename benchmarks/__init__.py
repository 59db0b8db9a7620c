"""Benchmarks: pytest-benchmark suites and the side-by-side comparison (``make bench``)."""
