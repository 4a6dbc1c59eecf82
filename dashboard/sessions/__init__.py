"""Server-side sessions: the cookie holds only an id; the data lives in the database or Redis.

`store.py` keeps the session data (Flask-Session); `records.py` keeps one row per signed-in
browser (`user_sessions`), which is what log-out, a password change or "log out everywhere else"
end, whatever the store.
"""

from dashboard.sessions.store import init_app

__all__ = ["init_app"]
