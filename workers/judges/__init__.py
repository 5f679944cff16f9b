"""Judge prompt formats, by the name ``format`` takes in ``[judges.NAME]``.

Each family's official texts are data files in ``templates/`` (source and
licence in each); each module renders them and parses the replies.
"""

from __future__ import annotations

from workers.judges import judgelm, mtbench, prometheus
from workers.judges.base import (
    ContextOverflow,
    JudgeFormat,
    JudgeInput,
    ParseError,
    Refused,
    RenderedPrompt,
    Turn,
    Verdict,
    fit,
    strip_markers,
)

FORMATS: dict[str, JudgeFormat] = {
    f.name: f
    for f in (prometheus.FORMAT, prometheus.ABSOLUTE_FORMAT, judgelm.FORMAT, mtbench.FORMAT)
}


def get_format(name: str) -> JudgeFormat:
    try:
        return FORMATS[name]
    except KeyError:
        raise KeyError(f"unknown judge format {name!r} (known: {', '.join(FORMATS)})") from None


__all__ = [
    "FORMATS",
    "ContextOverflow",
    "JudgeFormat",
    "JudgeInput",
    "ParseError",
    "Refused",
    "RenderedPrompt",
    "Turn",
    "Verdict",
    "fit",
    "get_format",
    "strip_markers",
]
