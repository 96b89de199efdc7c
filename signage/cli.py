"""The `signage` command.

signage serve [--host H] [--port P]      run the server (the default command)
signage db upgrade                        create or migrate the database (Alembic)
signage db revision -m "what changed"     write a migration for a model change
signage user create --email E --password P --role R [--employee-no N]
signage token create --email E            print a new API token for that user
signage demo                              add demo users, an image and a layout
"""

from __future__ import annotations

import asyncio
import sys

import click

from signage.settings import ROLES, Settings


def run(coro):
    return asyncio.run(coro)


@click.group(invoke_without_command=True)
@click.pass_context
def main(ctx: click.Context) -> None:
    """Signage server with meeting-room booking."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(serve)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=int, help="processes (need PostgreSQL and Redis)")
def serve(host: str, port: int, workers: int) -> None:
    """Run the server."""
    import uvicorn

    uvicorn.run(
        "signage.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=True,
        log_level="info",
        timeout_graceful_shutdown=5,
    )


@main.group()
def db() -> None:
    """The database."""


@db.command()
def upgrade() -> None:
    """Create the tables, or migrate them to the newest version."""
    from signage.migrate import upgrade as do_upgrade

    settings = Settings.from_env()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    do_upgrade(settings.db_url)
    click.echo("database is up to date")


@db.command()
@click.option("-m", "--message", required=True)
def revision(message: str) -> None:
    """Write a new migration from the difference between the models and the database."""
    from alembic import command

    from signage.migrate import config

    command.revision(config(Settings.from_env().db_url), message=message, autogenerate=True)


@main.group()
def user() -> None:
    """Users."""


@user.command("create")
@click.option("--email", required=True)
@click.option("--password", required=True)
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option("--name", default="")
@click.option("--employee-no", default=None, help="the number face and badge terminals name the user by")
def user_create(email: str, password: str, role: str, name: str, employee_no: str | None) -> None:
    """Create a user (or reset an existing one's password and role)."""
    from signage.users import store as users

    if len(password) < 8:
        raise click.BadParameter("use at least 8 characters", param_hint="--password")
    if employee_no is not None and not 0 < len(employee_no.strip()) <= 64:
        raise click.BadParameter("1 to 64 characters", param_hint="--employee-no")
    try:
        user_id, created = run(
            users.create_or_update(Settings.from_env(), email, password, role, name, employee_no)
        )
    except users.Taken as exc:
        raise click.BadParameter(str(exc), param_hint="--employee-no") from None
    click.echo(f"{'created' if created else 'updated'} user {user_id} <{email.lower()}> as {role}")


@main.group()
def token() -> None:
    """API tokens."""


@token.command("create")
@click.option("--email", required=True)
@click.option("--name", default="cli")
def token_create(email: str, name: str) -> None:
    """Print a new API token for the user with this email."""
    from signage.users import store as users

    value = run(users.create_token(Settings.from_env(), email, name))
    if value is None:
        click.echo(f"no user with email {email}", err=True)
        sys.exit(1)
    click.echo(value)


@main.command()
@click.option("--url", default="http://127.0.0.1:8000", show_default=True, help="where the server will be")
def demo(url: str) -> None:
    """Add demo data (idempotent) and print how to sign in."""
    from signage import demo as demo_data

    password = run(demo_data.load(Settings.from_env()))
    click.echo("")
    click.echo(f"  Sign in at {url}/login")
    click.echo(f"  admin:  admin@example.com / {password}")
    click.echo(f"  others: editor@, roomadmin@, service@, member@example.com / {password}")
    click.echo(f"  A screen: open {url}/player in another window")
    click.echo("")
