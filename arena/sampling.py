"""Pair sampling: which prompt and which two models a battle shows.

A battle is drawn in two steps. :func:`draw` picks a prompt uniformly among
the prompts (optionally of one category) that at least two eligible models
have answered; then a *pair policy* picks two of those models. Policies are
plain functions ``policy(model_ids, rng) -> (a, b)`` registered in
:data:`POLICIES` by name, so a smarter policy (by rating uncertainty, say) is
one function and one ``[battle] sampler`` setting away. The order the policy
returns is not the order shown: the battle flips its own coin for that.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy import func, select
from sqlmodel import Session

from arena.models import Answer, Model, Prompt

PairPolicy = Callable[[Sequence[int], np.random.Generator], tuple[int, int]]
ELIGIBLE_STATES = ("active", "provisional")


class NoBattleAvailable(LookupError):
    """No prompt has answers from two eligible models (in the asked category)."""


def uniform(model_ids: Sequence[int], rng: np.random.Generator) -> tuple[int, int]:
    """Two distinct models, every pair equally likely."""
    i, j = rng.choice(len(model_ids), size=2, replace=False)
    return model_ids[int(i)], model_ids[int(j)]


POLICIES: dict[str, PairPolicy] = {"uniform": uniform}


class UnknownPolicy(ValueError):
    """``[battle] sampler`` names no registered pair policy."""


def get_policy(name: str) -> PairPolicy:
    """The registered policy called ``name``."""
    try:
        return POLICIES[name]
    except (KeyError, TypeError):
        raise UnknownPolicy(
            f"unknown pair sampler {name!r} ([battle] sampler); "
            f"known: {', '.join(sorted(POLICIES))}"
        ) from None


@dataclass(frozen=True)
class Draw:
    prompt: Prompt
    answer_a: Answer
    answer_b: Answer


def _eligible_answers(category: str | None, exclude_families: Sequence[str]):
    query = (
        select(Answer.prompt_id, Answer.model_id)
        .join(Model, Model.id == Answer.model_id)
        .where(Model.state.in_(ELIGIBLE_STATES))
    )
    if exclude_families:
        query = query.where((Model.family.is_(None)) | (Model.family.not_in(exclude_families)))
    if category:
        query = query.join(Prompt, Prompt.id == Answer.prompt_id).where(Prompt.category == category)
    return query


def draw(
    session: Session,
    rng: np.random.Generator,
    *,
    category: str | None = None,
    policy: str | PairPolicy = "uniform",
    exclude_families: Sequence[str] = (),
) -> Draw:
    """Pick a prompt and two answers to it by ``policy``.

    Raises
    ------
    NoBattleAvailable
        When no prompt has answers from two eligible models.
    UnknownPolicy
        When ``policy`` names no registered policy.
    """
    choose = get_policy(policy) if isinstance(policy, str) else policy
    eligible = _eligible_answers(category, exclude_families).subquery()
    prompt_ids = session.execute(
        select(eligible.c.prompt_id)
        .group_by(eligible.c.prompt_id)
        .having(func.count() >= 2)
        .order_by(eligible.c.prompt_id)
    ).all()
    if not prompt_ids:
        where = f" in category {category!r}" if category else ""
        raise NoBattleAvailable(f"no prompt{where} has answers from two eligible models")
    prompt_id = prompt_ids[int(rng.integers(len(prompt_ids)))][0]
    model_ids = [
        row[0]
        for row in session.execute(
            select(eligible.c.model_id)
            .where(eligible.c.prompt_id == prompt_id)
            .order_by(eligible.c.model_id)
        ).all()
    ]
    a, b = choose(model_ids, rng)
    answers = {
        ans.model_id: ans
        for ans in session.execute(
            select(Answer).where(Answer.prompt_id == prompt_id, Answer.model_id.in_([a, b]))
        ).scalars()
    }
    return Draw(prompt=session.get(Prompt, prompt_id), answer_a=answers[a], answer_b=answers[b])
