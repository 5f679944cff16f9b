"""Matching model names across inputs, with the organization checked.

Names match case-insensitively and through aliases (``alias -> model``, both
compared lower-case). An ``org/name`` id joins a plain ``name`` (the part
after the last ``/`` equal) only when the organization agrees:

* the plain name's organization is known (the lmsys CSV's ``organization``
  column, the models table or a metadata file), and
* it is the id's organization: equal or one containing the other once
  reduced to letters and digits (``Mistral`` ~ ``mistralai``), or a known
  organization alias (:data:`ORGANIZATION_ALIASES`, e.g. ``Alibaba`` ~
  ``Qwen``; more with an alias row ``org:<name>, org:<hub org>``).

Every other candidate is refused and stays its own model: a cross-organization
id (arena "Llama-3-8B-Instruct" by Meta is not ``AI-Sweden-Models/...``), an id
for a name whose organization is unknown, and a second id of the same
organization (ambiguous). An alias row joins any two names, whatever their
organizations. :attr:`Matching.renamed` says why each name landed where it did
and :attr:`Matching.refused` why a candidate was not joined.

Inputs are given in priority order: the pool's display name for a model is
the spelling of the first input that names it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

#: Organizations as the arena leaderboard names them -> their Hugging Face hub
#: organizations (reduced to letters and digits), where the two do not contain
#: each other. Extend or override with alias rows ``org:<name>, org:<hub org>``.
ORGANIZATION_ALIASES: dict[str, tuple[str, ...]] = {
    "alibaba": ("qwen",),
    "ai2": ("allenai",),
    "allenai": ("allenai",),
    "ucberkeley": ("berkeleynest",),
    "microsoft": ("wizardlmteam",),
    "meta": ("metallama", "facebook"),
    "zhipu": ("thudm",),
    "zhipuai": ("thudm",),
    "lmsys": ("lmsys",),
    "nexusflow": ("nexusflow",),
    "tii": ("tiiuae",),
}

ORG_ALIAS_PREFIX = "org:"


def _key(name: str) -> str:
    return name.strip().lower()


def _tail(key: str) -> str:
    return key.rsplit("/", 1)[-1]


def _org(key: str) -> str:
    return key.rsplit("/", 1)[0] if "/" in key else ""


def _letters(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def same_organization(
    known: str, hub_org: str, extra: dict[str, set[str]] | None = None
) -> str | None:
    """Why ``known`` (an organization name) is ``hub_org`` (an id's org part), or ``None``.

    Examples
    --------
    >>> same_organization("Mistral", "mistralai")
    'organization Mistral ~ mistralai'
    >>> same_organization("Alibaba", "Qwen")
    'organization alias Alibaba ~ Qwen'
    >>> same_organization("Meta", "AI-Sweden-Models") is None
    True
    """
    a, b = _letters(known), _letters(hub_org)
    if not a or not b:
        return None
    if a == b or (min(len(a), len(b)) >= 3 and (a in b or b in a)):
        return f"organization {known} ~ {hub_org}"
    table = set(ORGANIZATION_ALIASES.get(a, ())) | set((extra or {}).get(a, ()))
    if b in table:
        return f"organization alias {known} ~ {hub_org}"
    return None


@dataclass
class Matching:
    """The candidate pool and where each input's names landed in it.

    ``renamed`` lists every input name that landed on a pool model with another
    spelling (``{"input", "name", "model", "why"}``); ``refused`` every
    ``org/name`` id that was not joined to a plain name with the same tail
    (``{"name", "candidate", "why"}``); ``ambiguous`` the plain names with
    more than one candidate id.
    """

    names: list[str]
    index: dict[tuple[str, str], int]
    present: dict[str, set[int]]
    ambiguous: list[dict] = field(default_factory=list)
    duplicates: list[dict] = field(default_factory=list)
    renamed: list[dict] = field(default_factory=list)
    refused: list[dict] = field(default_factory=list)
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


def _split_aliases(aliases: dict[str, str]) -> tuple[dict[str, str], dict[str, set[str]]]:
    """Model aliases (lower-case) and organization aliases (``org:`` rows, both ways)."""
    models: dict[str, str] = {}
    orgs: dict[str, set[str]] = {}
    for alias, model in aliases.items():
        a, m = _key(alias), _key(model)
        if a.startswith(ORG_ALIAS_PREFIX) and m.startswith(ORG_ALIAS_PREFIX):
            x, y = _letters(a[len(ORG_ALIAS_PREFIX) :]), _letters(m[len(ORG_ALIAS_PREFIX) :])
            orgs.setdefault(x, set()).add(y)
            orgs.setdefault(y, set()).add(x)
        else:
            models[a] = m
    return models, orgs


def _choose(
    key: str, cands: list[str], org: str, org_aliases: dict, display: dict
) -> tuple[str | None, str, list[dict]]:
    """The candidate id a plain name joins, why, and the refused ones."""
    if not org:
        why = f"organization of {display[key]} unknown: add an alias to join"
        return (
            None,
            "",
            [{"name": display[key], "candidate": display[c], "why": why} for c in cands],
        )
    fits = [(c, same_organization(org, _org(display[c]), org_aliases)) for c in cands]
    good = [(c, why) for c, why in fits if why]
    refused = [
        {
            "name": display[key],
            "candidate": display[c],
            "why": f"organization {org} is not {_org(display[c])}: add an alias to join",
        }
        for c, why in fits
        if not why
    ]
    if len(good) == 1:
        return good[0][0], good[0][1], refused
    for c, _why in good:
        refused.append(
            {
                "name": display[key],
                "candidate": display[c],
                "why": f"ambiguous: {len(good)} ids of {org} end in this name; add an alias",
            }
        )
    return None, "", refused


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
        ``{alias: model}``; matched lower-case. ``org:A -> org:B`` rows declare two
        organization names the same.
    organizations : dict, optional
        ``{model name: organization}``: a plain name joins an ``org/name`` id only
        when its organization is the id's.

    Examples
    --------
    >>> m = match_names(
    ...     {"arena": ["Phi-4"], "benchmarks": ["microsoft/phi-4", "unsloth/phi-4"]},
    ...     organizations={"Phi-4": "Microsoft"},
    ... )
    >>> m.names, m.lookup("benchmarks", "microsoft/phi-4")
    (['Phi-4', 'unsloth/phi-4'], 0)
    """
    model_aliases, org_aliases = _split_aliases(aliases or {})
    orgs = {_key(m): o.strip() for m, o in (organizations or {}).items() if o and o.strip()}

    def resolve(name: str) -> str:
        key = _key(name)
        seen = set()
        while key in model_aliases and key not in seen:
            seen.add(key)
            key = model_aliases[key]
        return key

    # 1. exact keys, in first-seen order
    display: dict[str, str] = {}
    for names in inputs.values():
        for name in names:
            display.setdefault(resolve(name), name.strip())
    target, why_joined, ambiguous, refused = _join_plain_names(display, orgs, org_aliases)
    result = _place(inputs, display, target, why_joined, resolve)
    result.ambiguous = ambiguous
    result.refused = refused
    return result


def _join_plain_names(display: dict[str, str], orgs: dict[str, str], org_aliases: dict):
    """Plain names absorb ``org/name`` ids with the same tail and the same organization.

    Returns ``(target, why_joined, ambiguous, refused)``: ``target`` maps each
    key to the key it joins (itself when none).
    """
    keys = list(display)
    by_tail: dict[str, list[str]] = {}
    for key in keys:
        if "/" in key:
            by_tail.setdefault(_tail(key), []).append(key)
    target = {k: k for k in keys}
    why_joined: dict[str, str] = {}
    ambiguous, refused = [], []
    for key in keys:
        if "/" in key or key not in by_tail:
            continue
        cands = [c for c in by_tail[key] if target[c] == c]
        if not cands:
            continue
        chosen, why, no = _choose(key, cands, orgs.get(key, ""), org_aliases, display)
        refused.extend(no)
        if len(cands) > 1:
            ambiguous.append(
                {
                    "name": display[key],
                    "candidates": [display[c] for c in cands],
                    "chosen": display[chosen] if chosen else None,
                    "rule": why or "refused",
                }
            )
        if chosen is not None:
            target[chosen] = key
            why_joined[chosen] = f"same name after the organization; {why}"
    return target, why_joined, ambiguous, refused


def _place(inputs, display, target, why_joined, resolve) -> Matching:
    """The pool in first-seen order of the surviving keys, and where each input name landed."""
    pool_keys = [k for k in display if target[k] == k]
    pos = {k: i for i, k in enumerate(pool_keys)}
    result = Matching(names=[display[k] for k in pool_keys], index={}, present={})
    for source, names in inputs.items():
        got = result.present.setdefault(source, set())
        for name in names:
            resolved = resolve(name)
            idx = pos[target[resolved]]
            if idx in got and (source, name) not in result.index:
                result.duplicates.append(
                    {"input": source, "name": name, "model": result.names[idx]}
                )
                result.also[(source, name)] = idx
                continue
            got.add(idx)
            result.index[(source, name)] = idx
            if name.strip() != result.names[idx]:
                if resolved != _key(name):
                    why = f"alias {_key(name)} -> {resolved}"
                else:
                    why = why_joined.get(resolved, "same name, other case")
                result.renamed.append(
                    {"input": source, "name": name, "model": result.names[idx], "why": why}
                )
    return result
