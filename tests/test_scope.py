"""One scope type and one default policy: human votes unless another source is asked for."""

from __future__ import annotations

import pytest

from arena.scope import ALL_SOURCES, HUMAN, Scope, ScopeError, default_scopes


def test_unnamed_parts_take_the_default_policy():
    s = Scope.of()
    assert s == Scope() and s.source == HUMAN and s.category == "" and s.rater_group == ""
    assert s.filters == (None, HUMAN, None)
    assert Scope.of(source="").source == HUMAN and Scope.of(source=None).source == HUMAN
    assert Scope.of(category="coding", source="judge:p").filters == ("coding", "judge:p", None)


def test_every_source_only_when_asked():
    s = Scope.of(source=ALL_SOURCES)
    assert s.filters == (None, None, None)
    assert s.stored() == {"category": "", "source": "", "rater_group": ""}
    assert Scope.from_stored(s.stored()) == s
    human = Scope.of(category="math")
    assert human.stored() == {"category": "math", "source": "human", "rater_group": ""}
    assert Scope.from_stored(human.stored()) == human


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"category": "a\x00b"}, "category contains a NUL character"),
        ({"source": "\ud800"}, "source is not valid text"),
        ({"rater_group": "x" * 101}, "rater_group is longer than 100 characters"),
        ({"category": 3}, "category must be a string"),
    ],
)
def test_names_that_cannot_be_stored_are_refused(kwargs, message):
    with pytest.raises(ScopeError, match=message):
        Scope.of(**kwargs)


def test_default_scopes_keep_judges_apart():
    scopes = default_scopes(["coding", "math"], ["human", "judge:p"], ["", "experts"])
    assert scopes == [
        Scope(),
        Scope(category="coding"),
        Scope(category="math"),
        Scope(rater_group="experts"),
        Scope(source="judge:p"),
        Scope(source=ALL_SOURCES),
    ]
    assert Scope(source="judge:p").label() == "judge:p"
    assert Scope(category="c", source=ALL_SOURCES).label() == "all sources, category c"
