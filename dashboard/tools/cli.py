"""`flask tools sync`: mirror the tool registry into the `tools` table."""

import click

from dashboard.extensions import db
from dashboard.models import Tool
from dashboard.tools.routes import bp
from dashboard.tools.sync import sync_tools


@bp.cli.command("sync")
def sync_command() -> None:
    """Add new tool versions to the tools table and deactivate those no longer served."""
    counts = sync_tools(db.session, Tool)
    db.session.commit()
    click.echo(
        "Tools synced: {added} added, {updated} updated, {deactivated} deactivated.".format(
            **counts
        )
    )
