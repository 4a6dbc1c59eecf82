"""`flask logs ...`: keeping the log table within each plan's retention."""

import click

from dashboard.logs.routes import bp
from dashboard.retention import purge_expired_logs


@bp.cli.command("purge")
@click.option("--batch-size", default=10_000, show_default=True, help="Rows deleted a commit.")
def purge_command(batch_size: int) -> None:
    """Delete logs older than their owner's plan retention."""
    if batch_size < 1:
        raise click.BadParameter("must be at least 1", param_hint="--batch-size")
    deleted = purge_expired_logs(batch_size=batch_size)
    click.echo(f"Deleted {deleted:,} log rows older than their plan's retention.")
