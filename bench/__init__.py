"""Benchmarks, measured on PostgreSQL (see docs/figures.md)."""
