"""The database connection the API's hot path uses: one round trip a statement."""

from dashboard.extensions import db


def hot_connection():
    """The session's connection; on PostgreSQL, in autocommit mode when the request has not
    begun a transaction, so that a read or the metering statement is one round trip (no BEGIN,
    no COMMIT) and no transaction stays open while the tool runs."""
    session = db.session()
    if session.in_transaction() or session.get_bind().dialect.name != "postgresql":
        return session.connection()
    return session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
