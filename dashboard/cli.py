"""Commands under `flask`: users, super admins, demo data, doctor, tools."""

import logging

import click
from flask import Flask
from flask.cli import with_appcontext

from dashboard.auth.forms import PASSWORD_MIN
from dashboard.auth.service import EmailTaken, create_user, user_by_email
from dashboard.demo import ADMIN_EMAIL, DEMO_EMAIL, DEMO_PASSWORD, SUPPORT_EMAIL, load_demo
from dashboard.doctor import examine
from dashboard.extensions import db
from dashboard.models import SuperAdmin
from dashboard.plans import DEFAULT_PLANS
from dashboard.tools.cli import tools

users = click.Group("users", help="Create accounts and super admins.")
demo = click.Group("demo", help="Demo data.")


@users.command("create")
@click.argument("email")
@click.password_option()
@click.option("--plan", type=click.Choice(sorted(DEFAULT_PLANS)), default="free")
@click.option("--role", type=click.Choice(["user", "support"]), default="user")
def create_user_command(email: str, password: str, plan: str, role: str) -> None:
    """Create an account."""
    if len(password) < PASSWORD_MIN:
        raise click.ClickException(f"The password needs at least {PASSWORD_MIN} characters.")
    try:
        user = create_user(email, password, plan=plan, role=role)
    except EmailTaken:
        raise click.ClickException(f"An account with {email} already exists.") from None
    click.echo(f"Created {user.email} ({plan}, {role}), id {user.id}")


@users.command("promote-admin")
@click.argument("email")
@click.option("--notes", default=None, help="Why this person is a super admin.")
def promote_admin_command(email: str, notes: str | None) -> None:
    """Make an existing account a super admin (the super_admins table)."""
    user = user_by_email(email)
    if user is None:
        raise click.ClickException(f"No account with email {email}.")
    if user.is_super_admin:
        click.echo(f"{user.email} is already a super admin.")
        return
    db.session.add(SuperAdmin(user_id=user.id, notes=notes))
    db.session.commit()
    click.echo(f"{user.email} is now a super admin.")


@demo.command("load")
@click.option("--days", default=45, show_default=True, help="Days of history.")
@click.option("--calls", default=1500, show_default=True, help="Calls to make.")
@click.option("--users", default=0, show_default=True, help="More customers, two keys each.")
def load_demo_command(days: int, calls: int, users: int) -> None:
    """Create demo accounts and their call history (does nothing if they exist)."""
    if user_by_email(DEMO_EMAIL) is not None:
        click.echo(f"Demo data is already there ({DEMO_EMAIL} exists): nothing was added.")
        click.echo(f"Log in as {DEMO_EMAIL} with password {DEMO_PASSWORD}")
        return
    with click.progressbar(length=calls, label="Making demo calls") as bar:
        last = [0]

        def progress(done: int, total: int) -> None:
            bar.update(done - last[0])
            last[0] = done

        load_demo(days=days, calls=calls, users=users, progress=progress)
        bar.update(calls - last[0])
    click.echo(f"Log in as {DEMO_EMAIL} with password {DEMO_PASSWORD}")
    click.echo(f"Support console: {SUPPORT_EMAIL}; super admin: {ADMIN_EMAIL} (same password)")


@click.command("doctor")
@with_appcontext
def doctor_command() -> None:
    """Check the configuration and the connections; exit 1 if anything must be fixed."""
    logging.getLogger("alembic").setLevel(logging.WARNING)  # not its "Context impl" lines
    findings = examine()
    width = max(len(finding.subject) for finding in findings)
    for finding in findings:
        mark = {"ok": "ok     ", "warning": "WARNING", "problem": "PROBLEM"}[finding.level]
        click.echo(f"{mark}  {finding.subject.ljust(width)}  {finding.words}")
    problems = sum(finding.level == "problem" for finding in findings)
    if problems:
        raise click.ClickException(f"{problems} problem(s) to fix (above).")
    warnings = sum(finding.level == "warning" for finding in findings)
    if warnings:
        click.echo(f"{warnings} warning(s): it runs, but not as production should (above).")
        return
    click.echo("All good.")


def register(app: Flask) -> None:
    """Add the command groups to `app`."""
    app.cli.add_command(users)
    app.cli.add_command(demo)
    app.cli.add_command(doctor_command)
    app.cli.add_command(tools)
