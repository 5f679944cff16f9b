"""Which votes a rating is about: one :class:`Scope` type and one default policy.

A scope names a category, a vote source and a rater group. Every reader of
votes and snapshots (``arena rate``, the recompute job, the pages, the JSON
API, the composite's arena signal) builds its scope with :meth:`Scope.of`,
so they agree on what an unnamed part means:

* category and rater group: unnamed means **every** category / group;
* source: unnamed means **human votes only** (``human``). Judge models vote as
  their own source (``judge:NAME``) and are mixed in only when asked:
  ``source="all"``.

In the database a stored snapshot and the ``pair_counts`` table write "every"
as ``""``; :meth:`Scope.stored` and :meth:`Scope.from_stored` translate.
"""

from __future__ import annotations

from dataclasses import dataclass

HUMAN = "human"
ALL_SOURCES = "all"
MAX_LENGTH = 100  # the columns that hold these names are VARCHAR(100)


class ScopeError(ValueError):
    """A scope name that cannot be stored (bad characters, too long)."""


def _clean(kind: str, value: str | None) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ScopeError(f"{kind} must be a string, got {type(value).__name__}")
    if len(value) > MAX_LENGTH:
        raise ScopeError(f"{kind} is longer than {MAX_LENGTH} characters")
    if "\x00" in value:
        raise ScopeError(f"{kind} contains a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ScopeError(f"{kind} is not valid text (a lone surrogate)") from None
    return value.strip()


@dataclass(frozen=True)
class Scope:
    """Category, source and rater group of the votes a rating counts.

    ``category`` and ``rater_group``: ``""`` is every one. ``source``:
    :data:`HUMAN` (the default), ``judge:NAME``, any other stored source, or
    :data:`ALL_SOURCES` for every source.
    """

    category: str = ""
    source: str = HUMAN
    rater_group: str = ""

    @classmethod
    def of(
        cls,
        category: str | None = None,
        source: str | None = None,
        rater_group: str | None = None,
    ) -> Scope:
        """A checked scope; what is not named takes the default policy above."""
        source = _clean("source", source)
        return cls(
            category=_clean("category", category),
            source=source or HUMAN,
            rater_group=_clean("rater_group", rater_group),
        )

    @property
    def filters(self) -> tuple[str | None, str | None, str | None]:
        """(category, source, rater_group) for :meth:`rating.counts.CountTable.select`:
        ``None`` where every value counts."""
        source = None if self.source == ALL_SOURCES else self.source
        return (self.category or None, source, self.rater_group or None)

    def stored(self) -> dict[str, str]:
        """The scope as snapshot rows and JSON keep it (``""`` = every)."""
        source = "" if self.source == ALL_SOURCES else self.source
        return {"category": self.category, "source": source, "rater_group": self.rater_group}

    @classmethod
    def from_stored(cls, row: dict) -> Scope:
        """The inverse of :meth:`stored`."""
        source = row.get("source", "")
        return cls(
            category=row.get("category", ""),
            source=source or ALL_SOURCES,
            rater_group=row.get("rater_group", ""),
        )

    def label(self) -> str:
        """Short words for pages and CLI output: ``human, coding``."""
        parts = ["all sources" if self.source == ALL_SOURCES else self.source]
        if self.category:
            parts.append(f"category {self.category}")
        if self.rater_group:
            parts.append(f"group {self.rater_group}")
        return ", ".join(parts)


def default_scopes(categories: list[str], sources: list[str], groups: list[str]) -> list[Scope]:
    """The scopes the recompute job keeps snapshots for, given the labels present.

    Human votes overall, per category and per rater group; each other source
    present (each judge) on its own; and every source together.
    """
    out = [Scope()]
    out += [Scope(category=c) for c in categories if c]
    out += [Scope(rater_group=g) for g in groups if g]
    out += [Scope(source=s) for s in sources if s and s != HUMAN]
    out.append(Scope(source=ALL_SOURCES))
    seen: set[Scope] = set()
    return [s for s in out if not (s in seen or seen.add(s))]
