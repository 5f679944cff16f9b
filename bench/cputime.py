"""CPU time used by groups of processes, read from Linux's ``/proc``.

A benchmark names its process groups (``{"web": [gunicorn pid], ...}``; each
pid counts with all its descendants, found when the snapshot is taken), takes
a :func:`snapshot` before and after a phase, and :func:`used` gives the CPU
seconds each group spent in between. ``"this"`` is the benchmark's own process
(its client threads), ``"other"`` everything else the machine did meanwhile
(busy time of all CPUs minus the named groups): a large ``other`` means the
figures were disturbed. Where ``/proc`` is missing, :func:`available` is False.
"""

from __future__ import annotations

import os
import resource
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def available() -> bool:
    return Path("/proc/stat").exists()


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(c) for c in text.split()]


def _tree(pid: int) -> list[int]:
    pids = [pid]
    for child in _children(pid):
        pids += _tree(child)
    return pids


def _process_seconds(pid: int) -> float:
    """utime + stime of one process (its threads included), 0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK


def _busy_seconds() -> float:
    """Time all CPUs spent neither idle, waiting for I/O nor stolen."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle, iowait = values[3], values[4]
    steal = values[7] if len(values) > 7 else 0
    return (sum(values[:8]) - idle - iowait - steal) / _TICK


def snapshot(groups: dict[str, list[int]]) -> dict[str, float]:
    """CPU seconds so far of each group (with descendants), this process and the machine.

    A process that exited between two snapshots takes its time with it, so
    groups should hold long-lived processes.
    """
    out = {
        name: sum(_process_seconds(p) for pid in pids for p in _tree(pid))
        for name, pids in groups.items()
    }
    usage = resource.getrusage(resource.RUSAGE_SELF)
    out["this"] = usage.ru_utime + usage.ru_stime
    out["_busy"] = _busy_seconds()
    return out


def used(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """CPU seconds per group between two snapshots, and ``other`` for the rest."""
    spent = {k: after[k] - before[k] for k in before if k != "_busy"}
    spent["other"] = max(0.0, (after["_busy"] - before["_busy"]) - sum(spent.values()))
    return spent
