"""MT-bench pairwise: an explanation, then ``[[A]]``, ``[[B]]`` or ``[[C]]`` (tie).

The prompt keeps MT-bench's fences (``[User Question]``, ``[The Start of
Assistant A's Answer]`` ...); the instructions are worded for Arena.

Parsing is strict: the LAST ``[[A]]``/``[[B]]``/``[[C]]`` decides; a reply
without one is a parse failure.
"""

from __future__ import annotations

import re

from workers.judges.base import JudgeFormat, ParseError, Verdict

INSTRUCTIONS = (
    "Act as an impartial judge of the answers two AI assistants gave to the user question "
    "below. Choose the assistant that follows the user's instructions and answers the question "
    "better, weighing helpfulness, relevance, accuracy, depth, creativity and detail. Begin "
    "with a short comparison of the two answers and explain it. Stay objective: neither the "
    "order in which the answers appear, nor their length, nor the assistants' names may sway "
    'you. After the explanation give your final verdict in exactly this form: "[[A]]" if '
    'assistant A is better, "[[B]]" if assistant B is better, "[[C]]" for a tie.'
)
REFERENCE_NOTE = " A reference answer is given; compare both answers with it."

VERDICT = re.compile(r"\[\[([ABC])\]\]")


def render(question: str, first: str, second: str, reference: str | None, rubric: str) -> str:
    parts = [
        INSTRUCTIONS + (REFERENCE_NOTE if reference else ""),
        "",
        "[User Question]",
        question,
        "",
    ]
    if reference:
        parts += ["[The Start of Reference Answer]", reference, "[The End of Reference Answer]", ""]
    parts += [
        "[The Start of Assistant A's Answer]",
        first,
        "[The End of Assistant A's Answer]",
        "",
        "[The Start of Assistant B's Answer]",
        second,
        "[The End of Assistant B's Answer]",
    ]
    return "\n".join(parts)


def parse(reply: str) -> Verdict:
    """The last ``[[A]]`` (``first``), ``[[B]]`` (``second``) or ``[[C]]`` (``tie``)."""
    if not reply or not reply.strip():
        raise ParseError("empty reply")
    found = VERDICT.findall(reply)
    if not found:
        raise ParseError("no [[A]], [[B]] or [[C]] verdict")
    return Verdict({"A": "first", "B": "second", "C": "tie"}[found[-1]])


FORMAT = JudgeFormat(name="mtbench", render=render, parse=parse)
