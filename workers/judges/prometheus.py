"""Prometheus 2: relative (pairwise) grading, and absolute (1-5 rubric) grading as an option.

The texts are prometheus-eval's own (``templates/prometheus.json``): the
relative system prompt and template, with or without a reference answer, and
the absolute ones. Completion mode, the default, sends the raw Mistral prompt
the package builds when it runs the open model itself on vLLM (FastChat's
``mistral`` conversation: ``[INST] {system}\\n{user} [/INST]``); chat mode sends
the system prompt as a system message and the template as the user message, as
the package does for API models through LiteLLM (some Mistral chat templates
refuse a system message: then use completion mode).

Parsing (relative): a verdict is a marker, optional space (a newline too), the
letter ``A`` or ``B``, an optional ``]``, then the end of the line; case does
not matter. Markers: ``[RESULT]``, ``[RESULT] Response``, ``[RESULT:``,
``[Response``, ``[Result:`` and ``Result``/``Result:`` at the start of a line.
These are the official parser's markers, so every reply it accepts is accepted.
Two extensions, both documented in docs/judges.md: the letter may be wrapped in
bold, quotes or brackets and followed by a period (``[RESULT] **B**.``); and
when several verdicts appear, the LAST one decides (the official parser takes
the first from the top; the format asks for the verdict at the end, so the
last is the model's final word). Prometheus has no tie.

Parsing (absolute): an integer from 1 to 5 after ``[RESULT]``, ``[SCORE]``,
``Score``, ``Result`` or ``score of`` at the end of the reply, optionally in
brackets or followed by ``/5`` or ``out of 5``, as the official parser reads it.
"""

from __future__ import annotations

import re

from workers.judges import templates
from workers.judges.base import (
    JudgeFormat,
    JudgeInput,
    ParseError,
    Refused,
    RenderedPrompt,
    Verdict,
)

RUBRICS = tuple(templates.load("prometheus")["rubrics"])

RELATIVE = re.compile(
    r"""(?:\[RESULT\](?:\s+Response)?|\[RESULT:|\[Response\s|(?:^|\n)[ \t]*Result:?)
        \s*[*"'(\[]*(A|B)[*"')\]]*\.?[ \t*]*$""",
    re.IGNORECASE | re.VERBOSE | re.MULTILINE,
)
ABSOLUTE = re.compile(
    r"""(?:\[RESULT\]|\[SCORE\]|Score:?|Result:?|\[Result\]:?|score\s+of)
        \s*[(\[\s]*(\d+)(?:[)\]\s]|/\s*5|\s*out\s*of\s*5)?\s*$""",
    re.IGNORECASE | re.VERBOSE,
)


def rubric_text(rubric: str, kind: str) -> str:
    """``rubric`` as the template takes it: an official rubric's name, or free text.

    Relative grading uses the rubric's first line (its criterion), as the package does.
    """
    rubrics = templates.load("prometheus")["rubrics"]
    text = rubrics.get(rubric, rubric)
    return text.split("\n")[0] if kind == "relative" else text


def _wrap(name: str, system: str, user: str) -> RenderedPrompt:
    return RenderedPrompt(
        template=name, system=system, user=user, completion=f"[INST] {system}\n{user} [/INST]"
    )


def _single_turn(item: JudgeInput):
    if len(item.turns) != 1:
        raise Refused(
            f"Prometheus 2 has no multi-turn template ({len(item.turns)} turns); "
            "use format 'mtbench' for multi-turn battles"
        )
    return item.turns[0]


def render_relative(item: JudgeInput) -> RenderedPrompt:
    t = templates.load("prometheus")
    turn = _single_turn(item)
    name = "relative" if turn.reference else "relative_without_reference"
    fields = dict(
        instruction=turn.question,
        response_A=turn.first,
        response_B=turn.second,
        rubric=rubric_text(item.rubric, "relative"),
    )
    if turn.reference:
        fields["reference_answer"] = turn.reference
    return _wrap(name, t["relative_system"], t[name].format(**fields))


def render_absolute(item: JudgeInput) -> RenderedPrompt:
    """The answer shown first, graded alone (the job grades each side in its own call)."""
    t = templates.load("prometheus")
    turn = _single_turn(item)
    name = "absolute" if turn.reference else "absolute_without_reference"
    fields = dict(
        instruction=turn.question, response=turn.first, rubric=rubric_text(item.rubric, "absolute")
    )
    if turn.reference:
        fields["reference_answer"] = turn.reference
    return _wrap(name, t["absolute_system"], t[name].format(**fields))


def parse_relative(reply: str) -> Verdict:
    """The letter of the last verdict marker: A is ``first``, B is ``second``."""
    if not reply or not reply.strip():
        raise ParseError("empty reply")
    found = RELATIVE.findall(reply)
    if not found:
        raise ParseError("no verdict: no [RESULT] (or [Response, [Result:, Result:) A or B")
    return Verdict("first" if found[-1].upper() == "A" else "second")


def parse_absolute(reply: str) -> Verdict:
    """The 1-5 score at the end of the reply."""
    if not reply or not reply.strip():
        raise ParseError("empty reply")
    match = ABSOLUTE.search(reply)
    if not match:
        raise ParseError("no score at the end of the reply ([RESULT] 1-5)")
    score = int(match.group(1))
    if not 1 <= score <= 5:
        raise ParseError(f"score {score} is not between 1 and 5")
    return Verdict("score", score=float(score))


VERSION = templates.version("prometheus")
FORMAT = JudgeFormat(
    name="prometheus",
    version=VERSION,
    kind="pairwise",
    default_mode="completion",
    render=render_relative,
    parse=parse_relative,
)
ABSOLUTE_FORMAT = JudgeFormat(
    name="prometheus-absolute",
    version=VERSION,
    kind="absolute",
    default_mode="completion",
    render=render_absolute,
    parse=parse_absolute,
)
