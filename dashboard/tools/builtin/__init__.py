"""The tools that ship with the product, one module per tool."""
