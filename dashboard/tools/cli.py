"""`flask tools` (registered by dashboard/cli.py): `sync` mirrors the tool registry into the
`tools` table and loads the catalog file of upstream tools (TOOLS_CATALOG_FILE) when there is
one; `disable` and `enable` switch one version off and on."""

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import AppGroup

from dashboard.extensions import db
from dashboard.models import Tool
from dashboard.tools.catalog_file import CatalogFileError, sync_catalog
from dashboard.tools.sync import sync_tools

SYNCED = "{added} added, {updated} updated, {deactivated} deactivated."

tools = AppGroup("tools", help="Mirror the tool registry and catalog file; switch versions.")


@tools.command("sync")
@click.option("--catalog", "catalog_path", help="The catalog file (default: TOOLS_CATALOG_FILE).")
def sync_command(catalog_path: str | None) -> None:
    """Add new tool versions to the tools table and deactivate those no longer served; then
    write the upstream versions of the catalog file. Nothing is written if the file is wrong."""
    counts = sync_tools(db.session, Tool)
    catalog_path = catalog_path or current_app.config["TOOLS_CATALOG_FILE"]
    upstream = None
    if catalog_path:
        try:
            upstream = sync_catalog(db.session, catalog_path)
        except CatalogFileError as error:
            db.session.rollback()
            message = f"Nothing synced; the catalog file is refused:\n{error}"
            raise click.ClickException(message) from None
    db.session.commit()
    click.echo("Tools synced: " + SYNCED.format(**counts))
    if upstream is not None:
        click.echo(f"Upstream tools from {catalog_path}: " + SYNCED.format(**upstream))


def switch(name: str, version: str, active: bool) -> None:
    tool = db.session.scalar(sa.select(Tool).where(Tool.name == name, Tool.version == version))
    if tool is None:
        raise click.ClickException(f"No tool {name} {version} in the tools table (run sync).")
    tool.is_active = active
    db.session.commit()
    state = "on" if active else "off"
    click.echo(f"{name} {version} is switched {state} (API answers change within the cache time).")


@tools.command("disable")
@click.argument("name")
@click.argument("version")
def disable_command(name: str, version: str) -> None:
    """Stop serving one tool version: the API answers 404 for it."""
    switch(name, version, active=False)


@tools.command("enable")
@click.argument("name")
@click.argument("version")
def enable_command(name: str, version: str) -> None:
    """Serve a tool version again."""
    switch(name, version, active=True)
