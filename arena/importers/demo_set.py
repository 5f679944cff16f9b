"""The demo set that ships with Arena (``arena/demo/*.jsonl``).

Written for the project: four fictional models with distinct styles, so
votes have something to separate:

* ``brisk-3b``: terse and correct, often a single line;
* ``sage-34b``: thorough, structured Markdown with code and explanations;
* ``scrawl-1b``: sloppy, frequently wrong (state ``provisional``);
* ``middle-8b``: average, plain and mostly right;

twelve prompts (four each in ``coding``, ``math`` and ``writing``, prompt set
``demo``) and an answer by every model to every prompt. :func:`load` imports
them with the JSONL importer, so loading twice changes nothing.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import Engine

from arena.importers import jsonl

DEMO_DIR = Path(__file__).resolve().parents[1] / "demo"
FILES = {kind: DEMO_DIR / f"{kind}.jsonl" for kind in ("models", "prompts", "answers")}


def load(engine: Engine) -> dict[str, int]:
    """Import the demo models, prompts and answers (idempotent).

    Returns
    -------
    dict
        ``{"models": n, "prompts": n, "answers": n}``: how many of each the
        demo set holds (all now stored).
    """
    counts = {}
    for kind in ("models", "prompts", "answers"):
        counts[kind] = jsonl.import_file(engine, kind, FILES[kind]).total
    return counts
