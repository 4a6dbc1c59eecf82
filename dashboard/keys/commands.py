"""`flask keys ...`: keeping the management API's idempotent answers within their window."""

import click

from dashboard.keys.idempotency import purge_idempotent_requests
from dashboard.keys.routes import bp


@bp.cli.command("purge-idempotency")
@click.option("--batch-size", default=10_000, show_default=True, help="Rows deleted a commit.")
def purge_idempotency_command(batch_size: int) -> None:
    """Delete idempotent answers older than IDEMPOTENCY_KEEP_HOURS."""
    if batch_size < 1:
        raise click.BadParameter("must be at least 1", param_hint="--batch-size")
    deleted = purge_idempotent_requests(batch_size=batch_size)
    click.echo(f"Deleted {deleted:,} idempotent answers older than their window.")
