"""A mark for pages that only the customer may open, never a support person viewing as them.

Every feature can mark its views without importing the support console; the console's guard
(dashboard/support/guards.py) collects the marked views from the app's URL map.
"""

MARK = "customer_only"


def customer_only(view):
    """Mark `view` (put it under the route decorator): refused while viewing as a customer."""
    setattr(view, MARK, True)
    return view


def is_customer_only(view) -> bool:
    return getattr(view, MARK, False)
