"""The tools that ship with the product, one module per tool."""

from datetime import date

# The day the built-in tools' first versions shipped (the changelog's first entries).
RELEASED = date(2026, 11, 25)
