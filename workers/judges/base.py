"""What every judge format shares: the input, the rendered prompt, verdicts, fitting.

A format renders a :class:`JudgeInput` (one or more turns, each a question, the
answer shown first, the answer shown second and an optional reference answer)
into a :class:`RenderedPrompt` (a system text, a user text and the raw prompt
for completion mode), and parses the judge's reply into a :class:`Verdict`
strictly: a reply without a well-formed verdict raises :class:`ParseError`, it
never becomes a silent tie. A format that has no template for an input (e.g.
several turns) raises :class:`Refused` with the reason.

Contestants could (by accident or on purpose) write a verdict marker or one of
the prompt's section fences into their answers; :func:`strip_markers` removes
them before rendering. :func:`fit` cuts answers to the judge's character budget
and reports whether it had to.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from re import Pattern

TRUNCATION_NOTICE = "\n[... answer truncated to fit the judge's context]"
MIN_ANSWER_CHARS = 100

# Verdict markers and section fences of every format: none may reach a judge inside an
# answer, whatever the judge's own format (a stray fence could end an answer early).
COMMON_MARKERS: tuple[Pattern, ...] = (
    re.compile(r"\[RESULT\]", re.IGNORECASE),
    re.compile(r"\[\[\s*[ABC]\s*\]\]", re.IGNORECASE),
    # prometheus
    re.compile(
        r"^[ \t]*###[ \t]*(Task Description|Instruction|The instruction to evaluate|"
        r"Response A|Response B|Response to evaluate|Reference Answer[^:\n]*|Score Rubrics?|"
        r"Feedback)[ \t]*:",
        re.IGNORECASE | re.MULTILINE,
    ),
    # judgelm and mtbench
    re.compile(
        r"\[(The (Start|End) of (Assistant [12AB]'s Answer|Reference Answer)|"
        r"Question|User Question|System|Reference Answer)\]",
        re.IGNORECASE,
    ),
    re.compile(
        r"<\|The (Start|End) of (Assistant [AB]'s Conversation with User|Reference Answer)\|>",
        re.IGNORECASE,
    ),
    re.compile(
        r"^[ \t]*### (Response|User|Assistant [AB]|Reference answer):", re.IGNORECASE | re.MULTILINE
    ),
    re.compile(r"\[/?INST\]"),
)


class ParseError(ValueError):
    """A judge reply without a well-formed verdict."""


class ContextOverflow(ValueError):
    """The prompt cannot fit the judge's context even with answers cut short."""


class Refused(ValueError):
    """The format has no template for this input (e.g. several turns); the reason says why."""


@dataclass(frozen=True)
class Turn:
    """One turn of a battle: the user's question and both answers, in the order shown."""

    question: str
    first: str
    second: str
    reference: str | None = None


@dataclass(frozen=True)
class JudgeInput:
    """What a judge is asked about: the turns (one for a single-turn battle), in order.

    ``category`` is the prompt's category (MT-bench picks its math template by it);
    ``rubric`` the Prometheus rubric text.
    """

    turns: tuple[Turn, ...]
    category: str | None = None
    rubric: str = ""

    @property
    def has_reference(self) -> bool:
        return all(t.reference for t in self.turns)


@dataclass(frozen=True)
class RenderedPrompt:
    """A rendered prompt.

    ``template`` names the upstream template used (e.g. ``pair-math-v1``);
    ``system`` and ``user`` are the chat messages; ``completion`` is the raw
    prompt sent in completion mode.
    """

    template: str
    system: str | None
    user: str
    completion: str
    truncated: bool = False

    def messages(self) -> list[dict]:
        system = [{"role": "system", "content": self.system}] if self.system else []
        return [*system, {"role": "user", "content": self.user}]

    def text(self, mode: str) -> str:
        """The text sent in ``mode``: the raw prompt, or the messages joined by blank lines."""
        if mode == "completion":
            return self.completion
        return "\n\n".join(m["content"] for m in self.messages())


@dataclass(frozen=True)
class Verdict:
    """A parsed reply.

    ``verdict`` is ``first``, ``second`` or ``tie`` for a pairwise format, ``score``
    for an absolute one (then ``score`` holds the grade). ``confidence`` is e.g.
    JudgeLM's score gap; ``scores`` the raw scores where the format gives some.
    """

    verdict: str
    confidence: float | None = None
    score: float | None = None


@dataclass(frozen=True)
class JudgeFormat:
    """One judge prompt format.

    ``kind`` is ``pairwise`` (one call sees both answers) or ``absolute`` (one
    call grades the answer shown first; the job grades each side). ``version``
    names the upstream text (repository and commit) so a call records which
    wording it sent. ``default_mode`` is the mode the model was trained with.
    """

    name: str
    version: str
    kind: str
    default_mode: str
    render: Callable[[JudgeInput], RenderedPrompt]
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


def _with(item: JudgeInput, answer: Callable[[str], str], ref: Callable[[str], str]) -> JudgeInput:
    turns = tuple(
        Turn(
            t.question, answer(t.first), answer(t.second), ref(t.reference) if t.reference else None
        )
        for t in item.turns
    )
    return replace(item, turns=turns)


def fit(
    fmt: JudgeFormat, item: JudgeInput, *, mode: str, context_chars: int, max_answer_chars: int
) -> RenderedPrompt:
    """Render ``fmt``'s prompt for ``item`` within ``context_chars`` characters.

    Markers are stripped from every answer (and reference); each answer is cut
    to ``max_answer_chars`` and, when the whole prompt is still too long, all
    are cut to an equal share of what is left. References that leave no room
    are cut too. ``truncated`` says whether anything was cut.

    Raises
    ------
    ContextOverflow
        When the questions and instructions alone leave less than
        ``MIN_ANSWER_CHARS`` per answer.
    Refused
        When the format has no template for ``item``.
    """
    item = _with(
        item, lambda a: strip_markers(a, fmt.markers), lambda r: strip_markers(r, fmt.markers)
    )
    n_answers = 2 * len(item.turns)

    def size(x: JudgeInput) -> int:
        return len(fmt.render(x).text(mode))

    empty = _with(item, lambda a: "", lambda r: r)
    fixed = size(empty)
    share = (context_chars - fixed) // n_answers
    truncated = False
    if share < MIN_ANSWER_CHARS and item.has_reference:
        without = size(_with(item, lambda a: "", lambda r: "-"))
        room = context_chars - without - n_answers * MIN_ANSWER_CHARS
        per_ref = max(room // len(item.turns), 1) // 2
        item = _with(item, lambda a: a, lambda r: cut(r, per_ref)[0])
        truncated = True
        fixed = size(_with(item, lambda a: "", lambda r: r))
        share = (context_chars - fixed) // n_answers
    if share < MIN_ANSWER_CHARS:
        raise ContextOverflow(
            f"the prompt needs {fixed} characters before the answers; "
            f"context_chars is {context_chars}"
        )
    limit = min(max_answer_chars, share)
    cuts: list[bool] = []

    def cut_answer(a: str) -> str:
        text, was_cut = cut(a, limit)
        cuts.append(was_cut)
        return text

    item = _with(item, cut_answer, lambda r: r)
    return replace(fmt.render(item), truncated=truncated or any(cuts))
