"""Benchmarks for the Customer 360 core, run by ``make bench`` (see bench/README.md)."""
