"""JudgeLM: the reply's first line holds two scores from 1 to 10.

The prompt keeps JudgeLM's fences (``[Question]``, ``[The Start of Assistant
1's Answer]`` ... ``[System]``, ``### Response:``); the instructions are
worded for Arena. In ``completion`` mode this text is the whole raw prompt.

Parsing is strict: the first non-blank line must be exactly two numbers in
1..10 (separated by a space or a comma, an optional closing period); the
higher score wins, equal scores are a tie, and the gap is the confidence.
"""

from __future__ import annotations

import re

from workers.judges.base import JudgeFormat, ParseError, Verdict

SYSTEM = "You are a careful assistant who checks how good answers to a question are."

NUMBER = r"(10(?:\.0+)?|[0-9](?:\.[0-9]+)?)"
SCORES = re.compile(rf"^\s*{NUMBER}\s*(?:,\s*|\s+){NUMBER}\s*\.?\s*$")


def render(question: str, first: str, second: str, reference: str | None, rubric: str) -> str:
    parts = [SYSTEM, "[Question]", question, ""]
    if reference:
        parts += ["[Reference Answer]", reference, ""]
    parts += [
        "[The Start of Assistant 1's Answer]",
        first,
        "",
        "[The End of Assistant 1's Answer]",
        "",
        "[The Start of Assistant 2's Answer]",
        second,
        "",
        "[The End of Assistant 2's Answer]",
        "",
        "[System]",
        "Please judge how well the two AI assistants answered the question above: how "
        "helpful, relevant, accurate and detailed each answer is."
        + (
            " A reference answer is given above; use it as the standard of a correct answer."
            if reference
            else ""
        )
        + " Give each assistant one overall score from 1 to 10, higher meaning better.",
        "On the first line write only the two scores, Assistant 1's first, separated by a "
        "space. From the next line on, explain the scores without bias, making sure the order "
        "in which the answers appear does not sway you.",
        "",
        "### Response:",
    ]
    return "\n".join(parts)


def parse(reply: str) -> Verdict:
    """The two scores on the first line: ``first``/``second``/``tie``, gap as confidence."""
    if not reply or not reply.strip():
        raise ParseError("empty reply")
    line = reply.strip().split("\n", 1)[0]
    match = SCORES.match(line)
    if not match:
        raise ParseError(f"the first line {line[:60]!r} is not two scores")
    a, b = float(match.group(1)), float(match.group(2))
    if not (1 <= a <= 10 and 1 <= b <= 10):
        raise ParseError(f"scores {a:g} and {b:g} are not both between 1 and 10")
    verdict = "first" if a > b else "second" if b > a else "tie"
    return Verdict(verdict, confidence=abs(a - b))


FORMAT = JudgeFormat(name="judgelm", render=render, parse=parse)
