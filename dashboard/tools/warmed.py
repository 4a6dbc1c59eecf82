"""Imported once by the tool pool's fork server (dashboard/tools/pool.py), never by the app.

Importing it loads every registered tool and its lexicons and models, so that each tool process
forked from the server starts warm and shares those pages with its siblings. This is the one
module whose import does work on purpose: that is what a fork server's preload is for.
"""

from dashboard.tools.registry import warm_up

warm_up()
