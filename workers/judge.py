"""The judge job: a judge model votes on one battle, judged in both orders.

:func:`judge_battle` runs on the rq queue ``judge``. It

1. draws a battle with the same sampler and left/right coin flip as the human
   page (:func:`arena.battles.issue`, origin ``judge:NAME``), or, when rq runs
   the job again after a failure or a timeout, finds the battle this job drew
   before: the battle's ``external_key`` is ``judge:NAME:<rq job id>``, stored
   in the same transaction as the battle, so a retry never draws a second one.
   A job given a live battle (``arena judge run --live``) replays that stored
   conversation instead, every turn of it (:mod:`workers.judge_live`);
2. skips the battle (no call, no vote) when a contestant is of the judge's own
   ``family``; the report counts these battles;
3. calls the judge in both orders at once, ``ab`` (the left answer shown
   first) and ``ba`` (swapped), each through the judge's concurrency slots,
   recording every call as a :class:`arena.models.JudgeCall` row. A reply
   that does not parse is asked again up to ``parse_retries`` times; an order
   already judged by an earlier run of the job is not asked again;
   Each call records its provenance: format and version, template, the hash of
   the rendered prompt, the request body as sent, the sampling settings, the
   served model name, ``finish_reason`` and token counts. A parse retry sends
   another seed (and, for a deterministic judge, ``retry_temperature``);
4. combines the two verdicts (:mod:`rating.judging`): agreeing ones make a win
   (or a tie, if both said tie); disagreeing ones make a tie, or no vote when
   ``on_disagreement = "none"``; an order that never parsed makes no vote. An
   absolute format grades the left answer in ``ab`` and the right one in
   ``ba``; the higher grade wins. A format with no template for the battle
   (several turns) records the refusal and makes no vote;
5. enqueues the vote on ``votes`` with source ``judge:NAME``. The vote job
   stores one vote per battle, so a job run twice never stores two.

HTTP failures that outlast the client's retries (see :mod:`workers.client`)
are recorded and re-raised, so rq retries the job (``job_retries``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from rq import Retry, get_current_job
from rq.exceptions import DuplicateJobError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from arena import battles, runtime, votes
from arena.models import Answer, Battle, JudgeCall, Model, Prompt, Vote
from arena.sampling import NoBattleAvailable
from rating.judging import combine, combine_scores, in_family
from workers.client import JudgeClient, JudgeHTTPError, JudgeUnavailable, encode
from workers.judge_config import JudgeSettings, get_judge
from workers.judges import (
    ContextOverflow,
    JudgeInput,
    ParseError,
    Refused,
    Turn,
    Verdict,
    fit,
    get_format,
)
from workers.judges.limits import RedisLimiter

JUDGE_JOB = "workers.judge.judge_battle"
ORDERS = ("ab", "ba")
_clients: dict[tuple, JudgeClient] = {}


@dataclass(frozen=True)
class SideTurn:
    """One turn of a battle as stored: the question and the LEFT and RIGHT answers."""

    question: str
    left: str
    right: str
    reference: str | None = None


@dataclass(frozen=True)
class BattleView:
    """A battle as a judge sees it. ``turns`` holds one turn today; a live battle of
    several turns fits the same shape (formats without a multi-turn template refuse it)."""

    battle_id: int
    turns: tuple[SideTurn, ...]
    category: str | None
    left_family: str | None
    right_family: str | None

    def judge_input(self, order: str, rubric: str) -> JudgeInput:
        """The input in ``order``: ``ab`` shows the left answer first, ``ba`` the right one.

        For an absolute format the answer shown first is the one graded.
        """
        turns = tuple(
            Turn(t.question, t.left, t.right, t.reference)
            if order == "ab"
            else Turn(t.question, t.right, t.left, t.reference)
            for t in self.turns
        )
        return JudgeInput(turns=turns, category=self.category, rubric=rubric)


def own_family(judge: JudgeSettings, view: BattleView) -> bool:
    return in_family(judge.family, view.left_family, view.right_family)


def client_for(judge: JudgeSettings, connection) -> JudgeClient:
    """The process's client for ``judge`` (one connection pool per judge settings)."""
    key = (os.getpid(), repr(judge))
    client = _clients.get(key)
    if client is None:
        limiter = RedisLimiter(
            connection, judge.name, judge.concurrency, lease_seconds=judge.timeout + 10
        )
        client = _clients[key] = JudgeClient(judge, limiter)
    return client


def enqueue_jobs(queue, judge: JudgeSettings, n: int, category: str | None = None) -> list:
    """Put ``n`` judge jobs for ``judge`` on ``queue``; returns the jobs."""
    description = f"judge {judge.name}" + (f" ({category})" if category else "")
    specs = [job_spec(queue, judge, category, description=description) for _ in range(n)]
    return queue.enqueue_many(specs)


def job_spec(queue, judge: JudgeSettings, category: str | None, *, description: str, **kwargs):
    """One judge job for ``queue.enqueue_many``, with the judge's timeout and retries;
    ``kwargs`` go to the job (e.g. ``live_battle``)."""
    retry = (
        Retry(max=judge.job_retries, interval=judge.job_retry_interval)
        if judge.job_retries
        else None
    )
    return queue.prepare_data(
        JUDGE_JOB,
        args=(judge.name, category),
        kwargs=kwargs or None,
        timeout=judge.effective_job_timeout(),
        result_ttl=3600,
        failure_ttl=30 * 86400,
        retry=retry,
        description=description,
    )


def _battle_key(judge: JudgeSettings, job) -> str | None:
    return f"{judge.source}:{job.id}" if job is not None else None


def _view(session: Session, battle: Battle) -> BattleView:
    from workers import judge_live

    if judge_live.has_conversation(session, battle):
        return judge_live.conversation_view(session, battle)
    prompt = session.get(Prompt, battle.prompt_id)

    def answer(model_id: int) -> tuple[str, str | None]:
        text = session.execute(
            select(Answer.text).where(
                Answer.prompt_id == battle.prompt_id, Answer.model_id == model_id
            )
        ).scalar_one()
        return text, session.get(Model, model_id).family

    left, left_family = answer(battle.left_model_id)
    right, right_family = answer(battle.right_model_id)
    turn = SideTurn(prompt.text, left, right, prompt.reference)
    return BattleView(battle.id, (turn,), prompt.category, left_family, right_family)


def draw_or_reuse(
    rt, judge: JudgeSettings, key: str | None, category: str | None
) -> tuple[BattleView, bool]:
    """This job's battle: the one stored under ``key``, else a fresh draw stored under it.

    Returns the battle and whether it was drawn just now.
    """
    with Session(rt.engine) as s:
        battle, fresh = None, False
        if key:
            battle = s.execute(
                select(Battle).where(Battle.external_key == key)
            ).scalar_one_or_none()
        if battle is None:
            issued = battles.issue(
                s,
                np.random.default_rng(),
                category=category,
                origin=judge.source,
                policy=rt.settings["battle"]["sampler"],
            )
            issued.battle.external_key = key
            try:
                s.commit()
                battle, fresh = issued.battle, True
            except IntegrityError:  # the same job ran twice at once: use the first draw
                s.rollback()
                battle = s.execute(select(Battle).where(Battle.external_key == key)).scalar_one()
        return _view(s, battle), fresh


def _record(rt, **fields) -> None:
    with Session(rt.engine) as s:
        s.add(JudgeCall(**fields))
        s.commit()


def _history(rt, judge: JudgeSettings, battle_id: int) -> dict[str, list[JudgeCall]]:
    with Session(rt.engine) as s:
        rows = (
            s.execute(
                select(JudgeCall)
                .where(JudgeCall.judge == judge.name, JudgeCall.battle_id == battle_id)
                .order_by(JudgeCall.id)
            )
            .scalars()
            .all()
        )
    return {order: [r for r in rows if r.call_order == order] for order in ORDERS}


def _parse_failures(rows: list[JudgeCall]) -> int:
    return sum(1 for r in rows if r.verdict is None and (r.error or "").startswith("parse:"))


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def judge_order(
    rt,
    judge: JudgeSettings,
    client: JudgeClient,
    view: BattleView,
    order: str,
    previous: list[JudgeCall],
) -> Verdict | None:
    """Judge one order until a verdict parses or the parse retries run out.

    Parse retry number ``r`` sends what :meth:`JudgeClient.sampling` gives for
    ``r`` (another seed, and a warmer temperature for a deterministic judge), so
    a retry can change the answer; every call records what it sent. Returns the
    verdict or None. HTTP failures are recorded and re-raised.
    """
    done = [r for r in previous if r.verdict is not None]
    if done:
        last = done[-1]
        return Verdict(last.verdict, confidence=last.confidence, score=last.score)
    attempt = len(previous)
    failures = _parse_failures(previous)
    fmt = get_format(judge.format)
    mode = judge.send_mode
    base = {
        "judge": judge.name,
        "battle_id": view.battle_id,
        "call_order": order,
        "format": fmt.name,
        "format_version": fmt.version,
    }
    try:
        rendered = fit(
            fmt,
            view.judge_input(order, judge.rubric),
            mode=mode,
            context_chars=judge.context_chars,
            max_answer_chars=judge.max_answer_chars,
        )
    except Refused as exc:
        _record(rt, **base, attempt=attempt + 1, error=f"refused: {exc}")
        return None
    except ContextOverflow as exc:
        _record(rt, **base, attempt=attempt + 1, error=f"context: {exc}")
        return None
    base.update(
        template=rendered.template,
        prompt_sha256=_sha256(rendered.text(mode)),
        truncated=rendered.truncated,
    )
    while failures <= judge.parse_retries:
        attempt += 1
        body = client.body(rendered, retry=failures)
        sent = dict(
            base,
            attempt=attempt,
            request=encode(body).decode("utf-8"),
            sampling=json.dumps(client.sampling(failures), sort_keys=True),
        )
        try:
            reply = client.complete(body)
        except (JudgeUnavailable, JudgeHTTPError) as exc:
            _record(rt, **sent, error=f"http: {exc}")
            raise
        note = f"retried: {'; '.join(reply.retries)}" if reply.retries else None
        fields = dict(
            sent,
            raw_reply=reply.text,
            latency_ms=reply.latency_ms,
            prompt_tokens=reply.prompt_tokens,
            completion_tokens=reply.completion_tokens,
            served_model=reply.served_model,
            finish_reason=reply.finish_reason,
        )
        try:
            verdict = fmt.parse(reply.text)
        except ParseError as exc:
            failures += 1
            _record(rt, **fields, error=f"parse: {exc}" + (f" ({note})" if note else ""))
            continue
        _record(
            rt,
            **fields,
            verdict=verdict.verdict,
            confidence=verdict.confidence,
            score=verdict.score,
            error=note,
        )
        return verdict
    return None


def choice_of(judge: JudgeSettings, verdicts: dict[str, Verdict | None]) -> str | None:
    """The battle's choice from the two orders' verdicts (see :mod:`rating.judging`)."""
    ab, ba = verdicts["ab"], verdicts["ba"]
    if get_format(judge.format).kind == "absolute":  # ab graded the left answer, ba the right
        return combine_scores(ab and ab.score, ba and ba.score)
    return combine(ab and ab.verdict, ba and ba.verdict, judge.on_disagreement)


def judge_battle(
    judge_name: str, category: str | None = None, live_battle: int | None = None
) -> dict:
    """The rq job: have judge ``judge_name`` vote on one battle (see the module doc);
    ``live_battle``: replay that live battle's conversation."""
    from workers import judge_live

    rt = runtime.current()
    judge = get_judge(rt.settings, judge_name)
    job = get_current_job()
    try:
        if live_battle is not None:
            view, fresh = judge_live.replay(rt.engine, judge, live_battle)
        else:
            view, fresh = draw_or_reuse(rt, judge, _battle_key(judge, job), category)
    except (NoBattleAvailable, judge_live.NotReplayable) as exc:
        return {"status": "no-battle", "reason": str(exc)}
    result = {"battle_id": view.battle_id, "judge": judge.name}
    if own_family(judge, view):
        return {**result, "status": "skipped", "reason": f"own family {judge.family!r}"}
    history = {order: [] for order in ORDERS}
    if not fresh:  # a retry: the vote may be stored, or some orders judged, already
        with Session(rt.engine) as s:
            if s.execute(select(Vote.id).where(Vote.battle_id == view.battle_id)).first():
                return {**result, "status": "voted", "note": "vote already stored"}
        history = _history(rt, judge, view.battle_id)
    client = client_for(judge, rt.redis)
    pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix=f"judge-{judge.name}")
    try:
        futures = {
            order: pool.submit(judge_order, rt, judge, client, view, order, history[order])
            for order in ORDERS
        }
        errors, verdicts = [], {}
        for order, future in futures.items():
            try:
                verdicts[order] = future.result()
            except (JudgeUnavailable, JudgeHTTPError) as exc:
                errors.append(exc)
        if errors:
            raise errors[0]
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    choice = choice_of(judge, verdicts)
    result.update(
        verdicts={
            o: (v.score if v and v.verdict == "score" else v and v.verdict)
            for o, v in verdicts.items()
        },
        choice=choice,
    )
    if choice is None:
        failed = [o for o in ORDERS if verdicts[o] is None]
        reason = f"no verdict for order(s) {', '.join(failed)}" if failed else "orders disagree"
        return {**result, "status": "no-vote", "reason": reason}
    vote_settings = rt.settings["votes"]
    with Session(rt.engine) as s:
        try:
            payload = votes.payload_for(s, view.battle_id, choice, source=judge.source)
        except votes.AlreadyVoted:
            return {**result, "status": "voted", "note": "vote already stored"}
    with contextlib.suppress(DuplicateJobError):  # enqueued by an earlier run of this job
        votes.enqueue(
            rt.queue(vote_settings["queue"]),
            payload,
            timeout=vote_settings["job_timeout_seconds"],
            retries=vote_settings["retries"],
        )
    return {**result, "status": "voted"}
