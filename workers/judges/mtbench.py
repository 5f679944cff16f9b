"""MT-bench pairwise (FastChat's LLM judge): an explanation, then ``[[A]]``, ``[[B]]`` or ``[[C]]``.

The texts are FastChat's own (``templates/mtbench.json``). As FastChat does,
``pair-math-v1`` (with the reference answer) judges prompts whose category is
math, reasoning or coding (FastChat's ``NEED_REF_CATS``) when a reference
exists; every other prompt gets ``pair-v2`` (which shows no reference). A
battle of two turns gets the ``-multi-turn`` variant of the same choice; more
than two turns are refused (FastChat's templates have two). Chat mode sends the
system prompt as a system message and the template as the user message, as
FastChat does for OpenAI models; completion mode joins them with a blank line.

Parsing: FastChat looks for ``[[A]]``, then ``[[B]]``, then ``[[C]]`` anywhere
in the reply and takes the first it finds in that order. Here the LAST marker
in the reply decides: a reply holding both ``[[A]]`` and ``[[B]]`` (e.g. quoting
the format before the verdict) would otherwise always favour A. Replies with
one kind of marker read the same. Markers must be exactly ``[[A]]``, ``[[B]]``
or ``[[C]]``, as in FastChat.
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

VERDICT = re.compile(r"\[\[([ABC])\]\]")


def template_name(item: JudgeInput) -> str:
    """FastChat's choice of template for ``item``."""
    t = templates.load("mtbench")
    math = item.has_reference and (item.category or "") in t["need_reference_categories"]
    base = "pair-math-v1" if math else "pair-v2"
    if len(item.turns) == 1:
        return base
    if len(item.turns) == 2:
        return base + "-multi-turn"
    raise Refused(f"MT-bench's templates have one or two turns, not {len(item.turns)}")


def render(item: JudgeInput) -> RenderedPrompt:
    name = template_name(item)
    t = templates.load("mtbench")[name]
    if len(item.turns) == 1:
        turn = item.turns[0]
        fields = dict(question=turn.question, answer_a=turn.first, answer_b=turn.second)
        if name == "pair-math-v1":
            fields["ref_answer_1"] = turn.reference
    else:
        one, two = item.turns
        fields = dict(
            question_1=one.question,
            question_2=two.question,
            answer_a_1=one.first,
            answer_b_1=one.second,
            answer_a_2=two.first,
            answer_b_2=two.second,
        )
        if name.startswith("pair-math"):
            fields.update(ref_answer_1=one.reference, ref_answer_2=two.reference)
    user = t["prompt_template"].format(**fields)
    system = t["system_prompt"]
    return RenderedPrompt(
        template=name, system=system, user=user, completion=system + "\n\n" + user
    )


def parse(reply: str) -> Verdict:
    """The last ``[[A]]`` (``first``), ``[[B]]`` (``second``) or ``[[C]]`` (``tie``)."""
    if not reply or not reply.strip():
        raise ParseError("empty reply")
    found = VERDICT.findall(reply)
    if not found:
        raise ParseError("no [[A]], [[B]] or [[C]] verdict")
    return Verdict({"A": "first", "B": "second", "C": "tie"}[found[-1]])


FORMAT = JudgeFormat(
    name="mtbench",
    version=templates.version("mtbench"),
    kind="pairwise",
    default_mode="chat",
    render=render,
    parse=parse,
)
