"""The recompute job: rate every scope from ``pair_counts`` and store snapshots.

The vote job enqueues ``workers.recompute.recompute_ratings`` on the
recompute queue (``[queues] recompute``; job id ``recompute-ratings``) every ``[rating]
recompute_every`` stored votes; ``arena rate --store`` runs the same code on
demand. Reading ``pair_counts`` costs O(pairs), not O(votes).
"""

from __future__ import annotations

from arena import rating_store, runtime


def recompute_ratings(scopes=None) -> list[dict]:
    """Recompute and store rating snapshots.

    Parameters
    ----------
    scopes : list of [category, source, rater_group], optional
        ``None``/"" in a position means all. Default: overall, each category,
        each source (human, judge:NAME) and each rater group present.

    Returns
    -------
    list of dict
        Per scope: the snapshot id, model and vote counts, or the error.
    """
    rt = runtime.current()
    if scopes is not None:
        scopes = [tuple(s) for s in scopes]
    report = rating_store.recompute(rt.engine, rt.settings["rating"], scopes)
    if rt.settings["rating"]["style_control"] and scopes is None:
        from arena.style_store import recompute_style

        report += recompute_style(rt.engine, rt.settings["rating"])
    return report
