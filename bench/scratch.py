"""A scratch database for a benchmark run, so a benchmark never touches real data.

``--database-url`` names a server: SQLite URLs are used as given (the file
must be new), PostgreSQL gets a fresh database ``arena_bench_<random>`` on
that server, dropped when the run ends. :func:`seed` fills it with models
that answered every prompt.
"""

from __future__ import annotations

import secrets
from contextlib import contextmanager

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlmodel import Session

from arena import db
from arena.models import Answer, Model, Prompt


@contextmanager
def scratch_database(url: str):
    """Yield the URL of an empty database to migrate and seed."""
    if not url.startswith("postgresql"):
        yield url
        return
    server = make_url(url)
    name = f"arena_bench_{secrets.token_hex(4)}"
    admin = create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        db.dispose_all()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def seed(
    engine, n_models: int, n_prompts: int, *, categories: tuple[str, ...] = (), marker: str = ""
) -> None:
    """``n_models`` models ``bench-model-<i>``, each answering ``n_prompts`` prompts.

    Prompt ``j`` is in ``categories[j % len(categories)]`` (none given: the
    default category); the first model's answers end with ``marker`` (the
    stand-in judge's word for the better one).
    """
    with Session(engine) as s:
        models = [Model(name=f"bench-model-{i}") for i in range(n_models)]
        prompts = [Prompt(key=f"bench-{j}", text=f"Question {j}?") for j in range(n_prompts)]
        for j, prompt in enumerate(prompts if categories else []):
            prompt.category = categories[j % len(categories)]
        s.add_all(models + prompts)
        s.flush()
        s.add_all(
            [
                Answer(
                    prompt_id=p.id,
                    model_id=m.id,
                    text=f"{m.name} on {p.key}"
                    + (f" {marker}" if marker and m is models[0] else ""),
                )
                for m in models
                for p in prompts
            ]
        )
        s.commit()
