"""The simple rules over a live battle's text: a prompt's category, an answer's identity leak.

* :func:`categorize`: code fences or code keywords make "coding"; digits with a math word
  (or an arithmetic expression) make "math"; anything else is "general". A rater may choose
  the category instead (:func:`arena.live.start`).
* :func:`leaks_identity` with :func:`identity_names`: an answer that names one of the two
  models (its name in Arena or one of its ``aliases``, case-insensitive, as a whole word)
  gives the battle away; the generation worker flags the battle ``identity_leak``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from arena.endpoints import endpoints

CATEGORIES = ("general", "coding", "math")

_CODE = re.compile(
    r"```|^\s{4}\S|\b(code|coding|python|javascript|typescript|java|rust|golang|c\+\+|c#|sql|"
    r"regex|html|css|bash|shell script|compiler?|compile[sd]?|debug(?:ging)?|script|"
    r"program(?:ming)?|algorithm|json|yaml|stack ?trace|exception|refactor|unit tests?|"
    r"functions? (?:that|which|to|in|for)|def|async|lambda|null pointer)\b|[{};]\s*$|=>|"
    r"\w\(\)",
    re.IGNORECASE | re.MULTILINE,
)
_MATH = re.compile(
    r"\b(solve|equation|integral|integrate|derivative|differentiate|sum|product|calculate|"
    r"compute|prove|proof|probability|percent(?:age)?|divided?|multipl(?:y|ied)|plus|minus|"
    r"times|sqrt|square root|root|prime|factor(?:ial|ize)?|fraction|ratio|average|mean|"
    r"median|algebra|geometry|triangle|circle|area|volume|angle|log(?:arithm)?|matrix|"
    r"vector|limit|math|arithmetic|how many|how much)\b|\d\s*[-+*/^=×÷<>]\s*\d|%",
    re.IGNORECASE,
)


def categorize(text: str) -> str:
    """The category of a live prompt by simple rules.

    Code fences or code keywords make "coding"; digits together with a math word
    (or an arithmetic expression such as ``3 * 4``) make "math"; anything else is
    "general".
    """
    if _CODE.search(text):
        return "coding"
    if re.search(r"\d", text) and _MATH.search(text):
        return "math"
    return "general"


def leaks_identity(text: str, names: Sequence[str]) -> bool:
    """Whether ``text`` names any of ``names`` (case-insensitive, as a whole word).

    A name matches where it is not part of a longer word: "GPT-4" is found in
    "As GPT-4, I..." but "alpha" is not found in "alphabet".
    """
    for name in names:
        name = name.strip()
        if name and re.search(rf"(?<!\w){re.escape(name)}(?!\w)", text, re.IGNORECASE):
            return True
    return False


def identity_names(settings, models: Sequence[str]) -> tuple[str, ...]:
    """The names that give ``models`` away: each one's name in Arena and its aliases."""
    eps = endpoints(settings)
    out: list[str] = []
    for model in models:
        ep = eps.get(model)
        out.extend(ep.identity_names() if ep is not None else (model,))
    return tuple(out)
