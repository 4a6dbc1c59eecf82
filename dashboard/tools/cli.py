"""`flask tools sync`: mirror the tool registry into the `tools` table."""

import click
import sqlalchemy as sa

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


def switch(name: str, version: str, active: bool) -> None:
    tool = db.session.scalar(sa.select(Tool).where(Tool.name == name, Tool.version == version))
    if tool is None:
        raise click.ClickException(f"No tool {name} {version} in the tools table (run sync).")
    tool.is_active = active
    db.session.commit()
    state = "on" if active else "off"
    click.echo(f"{name} {version} is switched {state} (API answers change within the cache time).")


@bp.cli.command("disable")
@click.argument("name")
@click.argument("version")
def disable_command(name: str, version: str) -> None:
    """Stop serving one tool version: the API answers 404 for it."""
    switch(name, version, active=False)


@bp.cli.command("enable")
@click.argument("name")
@click.argument("version")
def enable_command(name: str, version: str) -> None:
    """Serve a tool version again."""
    switch(name, version, active=True)
