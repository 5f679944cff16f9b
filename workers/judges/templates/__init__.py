"""The judge models' official prompt texts, word for word, one JSON file per family.

Each file's ``_source`` names the upstream repository, commit, path and licence.
The texts are data, not code: never edit them by hand (a golden rendering in
``tests/data/judges/`` catches a change).
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources


@cache
def load(family: str) -> dict:
    """The templates of ``family`` (``prometheus``, ``judgelm`` or ``mtbench``)."""
    text = resources.files(__package__).joinpath(f"{family}.json").read_text(encoding="utf-8")
    return json.loads(text)


def version(family: str) -> str:
    """``<repository>@<commit>`` of the family's texts: what a call records as its version."""
    source = load(family)["_source"]
    return f"{source['repository'].removeprefix('https://github.com/')}@{source['commit'][:12]}"
