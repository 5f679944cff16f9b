"""Matching model names across inputs.

Names match case-insensitively, through aliases (``alias -> model``, both
compared lower-case), and an ``org/name`` id matches a plain ``name`` when the
part after the last ``/`` is equal. When a plain name could be several
``org/name`` ids, the one whose organization matches the model's known
organization wins (ignoring case and non-letters, either containing the
other), else the first one seen; the choice is reported as ambiguous.

Inputs are given in priority order: the pool's display name for a model is
the spelling of the first input that names it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field


def _key(name: str) -> str:
    return name.strip().lower()


def _tail(key: str) -> str:
    return key.rsplit("/", 1)[-1]


def _org(key: str) -> str:
    return key.rsplit("/", 1)[0] if "/" in key else ""


def _letters(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


@dataclass
class Matching:
    """The candidate pool and where each input's names landed in it."""

    names: list[str]
    index: dict[tuple[str, str], int]
    present: dict[str, set[int]]
    ambiguous: list[dict] = field(default_factory=list)
    duplicates: list[dict] = field(default_factory=list)
    renamed: list[dict] = field(default_factory=list)
    also: dict[tuple[str, str], int] = field(default_factory=dict)

    def lookup(self, source: str, name: str) -> int | None:
        """Pool index of a name as given by ``source`` (``None`` for a repeated model)."""
        return self.index.get((source, name))

    def locate(self, source: str, name: str) -> int | None:
        """Pool index of a name, repeated models included."""
        found = self.index.get((source, name))
        return self.also.get((source, name)) if found is None else found

    def missing(self, source: str) -> list[str]:
        """Pool models that ``source`` does not name."""
        have = self.present.get(source, set())
        return [n for i, n in enumerate(self.names) if i not in have]


def match_names(
    inputs: dict[str, list[str]],
    aliases: dict[str, str] | None = None,
    organizations: dict[str, str] | None = None,
) -> Matching:
    """Build the pool from every input's names.

    Parameters
    ----------
    inputs : dict
        ``{input label: [model names as that input spells them]}``, in priority order.
    aliases : dict, optional
        ``{alias: model}``; matched lower-case.
    organizations : dict, optional
        ``{model name: organization}``, used to settle ambiguous plain names.

    Examples
    --------
    >>> m = match_names({"arena": ["Phi-4"], "benchmarks": ["microsoft/phi-4", "x/y"]})
    >>> m.names, m.lookup("benchmarks", "microsoft/phi-4")
    (['Phi-4', 'x/y'], 0)
    """
    aliases = {_key(a): _key(m) for a, m in (aliases or {}).items()}
    orgs = {_key(m): _letters(o) for m, o in (organizations or {}).items() if o}

    def resolve(name: str) -> str:
        key = _key(name)
        seen = set()
        while key in aliases and key not in seen:
            seen.add(key)
            key = aliases[key]
        return key

    # 1. exact keys, in first-seen order
    display: dict[str, str] = {}
    for names in inputs.values():
        for name in names:
            display.setdefault(resolve(name), name.strip())
    keys = list(display)
    # 2. plain names absorb org/name ids with the same tail
    by_tail: dict[str, list[str]] = {}
    for key in keys:
        if "/" in key:
            by_tail.setdefault(_tail(key), []).append(key)
    target = {k: k for k in keys}
    ambiguous = []
    for key in keys:
        if "/" in key or key not in by_tail:
            continue
        cands = [c for c in by_tail[key] if target[c] == c]
        if not cands:
            continue
        chosen = cands[0]
        if len(cands) > 1:
            org = orgs.get(key, "")
            fits = [
                c
                for c in cands
                if org
                and _letters(_org(c))
                and (org in _letters(_org(c)) or _letters(_org(c)) in org)
            ]
            chosen = fits[0] if fits else cands[0]
            ambiguous.append(
                {
                    "name": display[key],
                    "candidates": [display[c] for c in cands],
                    "chosen": display[chosen],
                    "rule": "organization" if fits else "first seen",
                }
            )
        target[chosen] = key
    # 3. pool in first-seen order of the surviving keys
    pool_keys = [k for k in keys if target[k] == k]
    pos = {k: i for i, k in enumerate(pool_keys)}
    result = Matching(names=[display[k] for k in pool_keys], index={}, present={})
    for source, names in inputs.items():
        got = result.present.setdefault(source, set())
        for name in names:
            idx = pos[target[resolve(name)]]
            if idx in got and (source, name) not in result.index:
                result.duplicates.append(
                    {"input": source, "name": name, "model": result.names[idx]}
                )
                result.also[(source, name)] = idx
                continue
            got.add(idx)
            result.index[(source, name)] = idx
            if name.strip() != result.names[idx]:
                result.renamed.append({"input": source, "name": name, "model": result.names[idx]})
    result.ambiguous = ambiguous
    return result
