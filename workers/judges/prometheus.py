"""Prometheus 2 relative grading: feedback, then ``[RESULT] A`` or ``[RESULT] B``.

The prompt keeps the section headers Prometheus 2 was trained on
(``###Instruction:``, ``###Response A:``, ``###Response B:``, ``###Reference
Answer:``, ``###Score Rubric:``, ``###Feedback:``); the instructions are worded
for Arena. The system text goes inside the one user message, since
Mistral-based chat templates reject a system role.

Parsing is strict: the LAST ``[RESULT]`` marker decides, and the rest of its
line may hold only ``A`` or ``B`` with optional brackets, quotes, bold or a
closing period. Prometheus has no tie.
"""

from __future__ import annotations

import re

from workers.judges.base import JudgeFormat, ParseError, Verdict

SYSTEM = (
    "You are a fair judge. You compare two responses to the same instruction and write "
    "feedback on how each one measures up against the other."
)

RESULT = re.compile(r"\[RESULT\]", re.IGNORECASE)
TAIL = re.compile(r"^[\s:*\"'(\[]*([AB])[\s*\"')\]]*[.!]?[\s*]*$")


def render(question: str, first: str, second: str, reference: str | None, rubric: str) -> str:
    ref_task = " and a reference answer that would earn the best grade" if reference else ""
    parts = [
        SYSTEM,
        "",
        "###Task Description:",
        "You are given an instruction (it may contain an input), two responses to it, "
        f"Response A and Response B{ref_task}, and a score rubric that states the criterion "
        "to judge by.",
        "1. Write feedback that compares the two responses strictly by the score rubric, "
        "not by general impressions.",
        "2. Then decide which response is better by the rubric: Response A or Response B.",
        '3. Answer in exactly this format: "(feedback on the criterion) [RESULT] (A or B)"',
        "4. Write nothing else: no greeting, no closing remarks.",
        "",
        "###Instruction:",
        question,
        "",
        "###Response A:",
        first,
        "",
        "###Response B:",
        second,
        "",
    ]
    if reference:
        parts += ["###Reference Answer:", reference, ""]
    parts += ["###Score Rubric:", rubric, "", "###Feedback: "]
    return "\n".join(parts)


def parse(reply: str) -> Verdict:
    """The verdict after the last ``[RESULT]``: A is ``first``, B is ``second``."""
    if not reply or not reply.strip():
        raise ParseError("empty reply")
    markers = list(RESULT.finditer(reply))
    if not markers:
        raise ParseError("no [RESULT] marker")
    rest = reply[markers[-1].end() :].split("\n", 1)[0]
    match = TAIL.match(rest)
    if not match:
        raise ParseError(f"the last [RESULT] is followed by {rest.strip()[:40]!r}, not A or B")
    return Verdict("first" if match.group(1) == "A" else "second")


FORMAT = JudgeFormat(name="prometheus", render=render, parse=parse)
