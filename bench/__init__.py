"""Benchmarks, measured on PostgreSQL."""
