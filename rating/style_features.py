"""Style features of one answer, and of a battle, without a tokenizer or a Markdown library.

LMArena's published "V1" style set counts four things per answer: its length
in tokens, Markdown headers, list items and bold spans. :func:`answer_features`
computes them from the answer's text with fixed, documented rules (the counts
must not drift between versions: stored features are compared with features
computed later):

``tokens``
    The tokenizer-free rule: the number of maximal runs of word characters
    (``\\w+``, Unicode letters, digits, underscore) plus the number of other
    non-space characters (each punctuation mark or symbol is one token).
    ``"Hello, world!"`` has 4 tokens. On English prose this is within about
    15 % of a BPE tokenizer's count; only ratios between the two answers of a
    battle enter the fit, so a constant factor cancels.
``headers``
    Lines (outside fenced code blocks) that start, after at most three
    spaces, with 1 to 6 ``#`` followed by a space or the end of the line
    (ATX headers, h1..h6).
``lists``
    Lines (outside fenced code blocks) that are list items: optional
    indentation, then ``-``, ``*`` or ``+`` followed by a space (unordered), or
    digits followed by ``.`` or ``)`` and a space (ordered).
``bold``
    Bold spans ``**text**`` or ``__text__`` (outside fenced code blocks and
    inline code), counted as non-overlapping matches on one line.

:func:`battle_features` turns the two sides' counts into the per-battle
features of style control: ``(a - b) / (a + b)`` per feature, 0 when both are 0.
"""

from __future__ import annotations

import re

import numpy as np

#: The feature names, in the order of every feature array.
FEATURES = ("tokens", "headers", "lists", "bold")

_TOKEN = re.compile(r"\w+|[^\w\s]")
_HEADER = re.compile(r"^ {0,3}#{1,6}(?:[ \t]|$)")
_LIST = re.compile(r"^[ \t]*(?:[-*+]|\d{1,9}[.)])[ \t]+\S")
_BOLD = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*|__(?=\S)(.+?)(?<=\S)__")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")
_INLINE_CODE = re.compile(r"`[^`\n]*`")


def count_tokens(text: str) -> int:
    """Tokens of ``text`` by the tokenizer-free rule (word runs plus other non-space marks)."""
    return sum(1 for _ in _TOKEN.finditer(text))


def answer_features(text: str | None) -> dict[str, int]:
    """The V1 style counts of one answer.

    Parameters
    ----------
    text : str or None
        The answer (Markdown). ``None`` counts as empty.

    Returns
    -------
    dict
        ``{"tokens", "headers", "lists", "bold"}``, each an int.

    Examples
    --------
    >>> answer_features("# Title\\n\\n- **one**\\n- two\\n")
    {'tokens': 10, 'headers': 1, 'lists': 2, 'bold': 1}
    """
    text = text or ""
    headers = lists = bold = 0
    fenced = False
    for line in text.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
            continue
        if fenced:
            continue
        if _HEADER.match(line):
            headers += 1
        elif _LIST.match(line):
            lists += 1
        bold += len(_BOLD.findall(_INLINE_CODE.sub("", line)))
    return {"tokens": count_tokens(text), "headers": headers, "lists": lists, "bold": bold}


def conversation_features(messages) -> dict[str, int]:
    """Summed counts over the assistant turns of a conversation.

    Parameters
    ----------
    messages : list of dict
        ``{"role", "content"}`` messages (LMArena's ``conversation_a``); only
        ``role == "assistant"`` turns count. A plain string is one answer.
    """
    if isinstance(messages, str):
        return answer_features(messages)
    total = dict.fromkeys(FEATURES, 0)
    for msg in messages or []:
        if isinstance(msg, dict) and msg.get("role") == "assistant":
            content = msg.get("content")
            if isinstance(content, list):  # multimodal turns: the text parts
                content = "\n".join(p.get("text", "") for p in content if isinstance(p, dict))
            for k, v in answer_features(content).items():
                total[k] += v
    return total


def battle_features(a, b) -> np.ndarray:
    """Relative differences ``(a - b) / (a + b)`` (0 where both are 0).

    Parameters
    ----------
    a, b : array_like, shape (n, k)
        The counts of side a and side b (non-negative).

    Returns
    -------
    numpy.ndarray, shape (n, k)
    """
    a = np.asarray(a, float)
    b = np.asarray(b, float)
    if np.any(a < 0) or np.any(b < 0):
        raise ValueError("style counts must be non-negative")
    s = a + b
    return np.divide(a - b, s, out=np.zeros_like(s), where=s > 0)
