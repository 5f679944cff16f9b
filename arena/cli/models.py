"""``arena models check``: call each live model's endpoint once and say which answer."""

from __future__ import annotations

import asyncio
import dataclasses

import click

from arena.cli.common import settings_option, text_table

DEFAULT_PROMPT = "Say hello in one short sentence."


@click.group("models")
def models_group() -> None:
    """Live models: the [models.NAME] endpoints."""


@models_group.command("check")
@click.option(
    "--model", "names", multiple=True, help="Check only this model (repeatable; default: all)."
)
@click.option("--prompt", default=DEFAULT_PROMPT, show_default=True, help="What to ask.")
@click.option(
    "--max-tokens",
    default=32,
    show_default=True,
    type=click.IntRange(1),
    help="At most this many tokens per answer (or the model's max_tokens if smaller).",
)
@settings_option
def check(names: tuple[str, ...], prompt: str, max_tokens: int, settings) -> None:
    """Stream one short answer from every live model at once, as a live battle would.

    Prints, per model, whether it answered, its time to first token, its speed and the
    start of its answer, or the reason it did not. Exits 1 when any did not answer.
    """
    from arena.endpoints import endpoints

    configured = endpoints(settings)
    if not configured:
        raise click.ClickException(
            "no live models are configured: add [models.NAME] tables (docs/configuration.md)"
        )
    unknown = [n for n in names if n not in configured]
    if unknown:
        raise click.ClickException(
            f"no [models.{unknown[0]}] in the settings (known: {', '.join(configured)})"
        )
    chosen = [
        dataclasses.replace(ep, max_tokens=min(ep.max_tokens, max_tokens))
        for name, ep in configured.items()
        if not names or name in names
    ]
    outcomes = asyncio.run(_check_all(settings, chosen, prompt))
    rows = []
    for ep, out in zip(chosen, outcomes):
        answered = out.status == "done"
        rows.append(
            [
                ep.name,
                ep.served_model,
                ep.host,
                "ok" if answered else "FAILED",
                f"{out.ttft_ms:.0f} ms" if out.ttft_ms is not None else "-",
                f"{out.tokens_per_second:.1f}" if out.tokens_per_second is not None else "-",
                _preview(out.text) if answered else out.error or "",
            ]
        )
    head = ["model", "served as", "host", "result", "first token", "tokens/s", "answer"]
    for line in text_table(head, rows, left={0, 1, 2, 3, 6}):
        click.echo(line)
    failed = sum(out.status != "done" for out in outcomes)
    if failed:
        raise click.ClickException(f"{failed} of {len(outcomes)} models did not answer")


def _preview(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


async def _check_all(settings, chosen, prompt: str):
    import httpx

    from arena.config import ConfigError
    from workers.chat_stream import Outcome, stream_chat

    live = settings.live
    async with httpx.AsyncClient(timeout=httpx.Timeout(None, connect=live.connect_timeout)) as c:

        async def one(ep):
            try:
                key = ep.api_key()
            except ConfigError as exc:
                return Outcome(status="error", error=str(exc))
            return await stream_chat(
                c,
                ep,
                [("user", prompt)],
                headers={"Authorization": f"Bearer {key}"} if key else None,
                first_token_timeout=live.first_token_timeout,
                connect_timeout=live.connect_timeout,
            )

        return await asyncio.gather(*(one(ep) for ep in chosen))


COMMANDS = [models_group]
