"""What every judge format shares: fitting the prompt, stripping markers, verdicts.

A format renders a pairwise prompt from a question, the answer shown first,
the answer shown second and an optional reference answer, and parses the
judge's reply into a :class:`Verdict` (``first``, ``second`` or ``tie``)
strictly: a reply without a well-formed verdict raises :class:`ParseError`,
it never becomes a silent tie.

Contestants could (by accident or on purpose) write a verdict marker or one
of the prompt's section fences into their answers; :func:`strip_markers`
removes them before rendering. :func:`fit` cuts answers to the judge's
character budget and reports whether it had to.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from re import Pattern

VERDICTS = ("first", "second", "tie")
TRUNCATION_NOTICE = "\n[... answer truncated to fit the judge's context]"
MIN_ANSWER_CHARS = 100

# Verdict markers and section fences of every format: none may reach a judge inside an
# answer, whatever the judge's own format (a stray fence could end an answer early).
COMMON_MARKERS: tuple[Pattern, ...] = (
    re.compile(r"\[RESULT\]", re.IGNORECASE),
    re.compile(r"\[\[\s*[ABC]\s*\]\]", re.IGNORECASE),
    # prometheus
    re.compile(
        r"^[ \t]*###[ \t]*(Task Description|Instruction|Response A|Response B|"
        r"Reference Answer|Score Rubric|Feedback)[ \t]*:",
        re.IGNORECASE | re.MULTILINE,
    ),
    # judgelm and mtbench
    re.compile(
        r"\[(The (Start|End) of (Assistant [12AB]'s Answer|Reference Answer)|"
        r"Question|User Question|System|Reference Answer)\]",
        re.IGNORECASE,
    ),
    re.compile(r"^[ \t]*### Response:", re.IGNORECASE | re.MULTILINE),
)


class ParseError(ValueError):
    """A judge reply without a well-formed verdict."""


class ContextOverflow(ValueError):
    """The prompt cannot fit the judge's context even with answers cut short."""


@dataclass(frozen=True)
class Verdict:
    verdict: str  # first | second | tie
    confidence: float | None = None  # e.g. JudgeLM's score gap


@dataclass(frozen=True)
class Rendered:
    text: str
    truncated: bool


@dataclass(frozen=True)
class JudgeFormat:
    """One judge prompt format: how to render a prompt and parse a reply."""

    name: str
    render: Callable[..., str]  # (question, first, second, reference, rubric) -> str
    parse: Callable[[str], Verdict]
    markers: Sequence[Pattern] = ()  # more patterns to strip (COMMON_MARKERS always are)


def strip_markers(text: str, markers: Sequence[Pattern] = ()) -> str:
    """``text`` without verdict markers or prompt fences."""
    for pattern in (*COMMON_MARKERS, *markers):
        text = pattern.sub("", text)
    return text


def cut(text: str, limit: int) -> tuple[str, bool]:
    """``text`` cut to at most ``limit`` characters, notice included."""
    if len(text) <= limit:
        return text, False
    if limit < 2 * len(TRUNCATION_NOTICE):  # no room to say so in the text: the record says it
        return text[:limit], True
    return text[: limit - len(TRUNCATION_NOTICE)].rstrip() + TRUNCATION_NOTICE, True


def fit(
    fmt: JudgeFormat,
    question: str,
    first: str,
    second: str,
    reference: str | None,
    *,
    rubric: str,
    context_chars: int,
    max_answer_chars: int,
) -> Rendered:
    """Render ``fmt``'s prompt within ``context_chars`` characters.

    Markers are stripped from both answers (and the reference); each answer is
    cut to ``max_answer_chars`` and, when the whole prompt is still too long,
    both are cut to an equal share of what is left. A reference answer that
    leaves no room is cut too. ``truncated`` says whether anything was cut.

    Raises
    ------
    ContextOverflow
        When the question and instructions alone leave less than
        ``MIN_ANSWER_CHARS`` per answer.
    """
    first = strip_markers(first, fmt.markers)
    second = strip_markers(second, fmt.markers)
    reference = strip_markers(reference, fmt.markers) if reference else None
    truncated = False
    fixed = len(fmt.render(question, "", "", reference, rubric))
    share = (context_chars - fixed) // 2
    if share < MIN_ANSWER_CHARS and reference:
        without = len(fmt.render(question, "", "", "", rubric))
        room = context_chars - without - 2 * MIN_ANSWER_CHARS
        reference, _ = cut(reference, max(room // 2, 0))
        truncated = True
        fixed = len(fmt.render(question, "", "", reference, rubric))
        share = (context_chars - fixed) // 2
    if share < MIN_ANSWER_CHARS:
        raise ContextOverflow(
            f"the prompt needs {fixed} characters before the answers; "
            f"context_chars is {context_chars}"
        )
    limit = min(max_answer_chars, share)
    first, cut_first = cut(first, limit)
    second, cut_second = cut(second, limit)
    text = fmt.render(question, first, second, reference, rubric)
    return Rendered(text=text, truncated=truncated or cut_first or cut_second)
