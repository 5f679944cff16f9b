"""``arena token create|list|revoke``: bearer tokens for the API."""

from __future__ import annotations

import click

from arena import tokens
from arena.cli.common import config_option


@click.group("token")
def token_group() -> None:
    """Create, list and revoke API bearer tokens (only a hash is stored)."""


@token_group.command("create")
@click.option("--role", type=click.Choice(tokens.ROLES), required=True, help="What it may do.")
@click.option("--name", required=True, help="A name to list and revoke it by.")
@config_option
def create(role: str, name: str, rt) -> None:
    """Create a token and print it once (it cannot be shown again)."""
    try:
        token, info = tokens.create(rt.engine, name, role)
    except tokens.TokenError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(token)
    click.echo(
        f"token {info.name!r} ({info.role}) created; store it now: only its hash is kept",
        err=True,
    )


@token_group.command("list")
@config_option
def list_(rt) -> None:
    """List tokens: name, role, prefix, created, revoked."""
    rows = tokens.list_tokens(rt.engine)
    if not rows:
        click.echo("no tokens (create one with `arena token create --role ROLE --name NAME`)")
        return
    for t in rows:
        state = f"revoked {t.revoked_at:%Y-%m-%d %H:%M}" if t.revoked_at else "live"
        click.echo(
            f"{t.name}\t{t.role}\tarena_{t.prefix}_…\tcreated {t.created_at:%Y-%m-%d %H:%M}"
            f"\t{state}"
        )


@token_group.command("revoke")
@click.argument("name")
@config_option
def revoke(name: str, rt) -> None:
    """Revoke the token NAME."""
    try:
        info = tokens.revoke(rt.engine, name)
    except tokens.TokenError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"token {info.name!r} revoked")


COMMANDS = [token_group]
