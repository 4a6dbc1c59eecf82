"""Benchmarks, measured on PostgreSQL (see README, "Figures")."""
