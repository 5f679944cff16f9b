"""Judge prompt formats, one module each, by the name ``format`` takes in config."""

from __future__ import annotations

from workers.judges import judgelm, mtbench, prometheus
from workers.judges.base import (
    ContextOverflow,
    JudgeFormat,
    ParseError,
    Rendered,
    Verdict,
    fit,
    strip_markers,
)

FORMATS: dict[str, JudgeFormat] = {
    "prometheus": prometheus.FORMAT,
    "judgelm": judgelm.FORMAT,
    "mtbench": mtbench.FORMAT,
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
    "ParseError",
    "Rendered",
    "Verdict",
    "fit",
    "get_format",
    "strip_markers",
]
