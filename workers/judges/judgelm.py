"""JudgeLM: the reply's first line holds two scores from 1 to 10.

The text is JudgeLM's own (``templates/judgelm.json``: ``conv_judge_pair`` and
``conv_judge_pair_w_reference``). JudgeLM was fine-tuned on a raw prompt, so
``completion`` is its default mode: ``system + "\\n" + template + "### Response:"``,
exactly as ``gen_model_judgement.py`` builds it. Chat mode sends the system line
as a system message and the filled template as the user message.

JudgeLM's *swap* mode (judging with the answers exchanged) is what the judge job
does for every format: each battle is judged in both orders.

Parsing: the first non-blank line must be two numbers separated by spaces or a
comma (an optional trailing period), each in 1..10; the higher wins, equal
scores are a tie, and the gap is the confidence. JudgeLM's reference parser
(``parse_score``) reads the first line split on single spaces after turning
commas into spaces. Differences, on purpose: it turns an unreadable line into
``[-1, -1]``, which its win rule then counts as a TIE; here that is a parse
failure (asked again). It rejects a line with a leading space or ``"8, 9"``
(three parts after the split) and a reply starting with a blank line; here those
are read. It accepts scores outside 1..10; here they are a parse failure.
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

NUMBER = r"([0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
SCORES = re.compile(rf"^\s*{NUMBER}\s*(?:,\s*|\s+){NUMBER}\s*\.?\s*$")


def render(item: JudgeInput) -> RenderedPrompt:
    if len(item.turns) != 1:
        raise Refused(
            f"JudgeLM has no multi-turn template ({len(item.turns)} turns); "
            "use format 'mtbench' for multi-turn battles"
        )
    turn = item.turns[0]
    name = "pair_with_reference" if turn.reference else "pair"
    conv = templates.load("judgelm")[name]
    fields = dict(question=turn.question, answer_1=turn.first, answer_2=turn.second)
    if turn.reference:
        fields["reference"] = turn.reference
    user = conv["prompt_template"].format(prompt=conv["prompt"], **fields)
    return RenderedPrompt(
        template=name,
        system=conv["system"],
        user=user,
        completion=conv["system"] + "\n" + user + conv["appendix"],
    )


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


FORMAT = JudgeFormat(
    name="judgelm",
    version=templates.version("judgelm"),
    kind="pairwise",
    default_mode="completion",
    render=render,
    parse=parse,
)
