"""An example upstream service (see service.py)."""
