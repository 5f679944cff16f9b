"""Python's cyclic garbage collector around a command-line run.

A command imports numpy, polars or scipy: a few hundred thousand objects that
live until the process ends. While they are made, the collector's allocation
counters trigger collections that visit them again and again (about 0.1 s of
CPU for ``arena rate``), and at exit the interpreter's last collections visit
them all once more (0.1-0.2 s). Imports and reads run with the collector
paused (:func:`paused`); the ``arena`` script freezes what is left when the
command returns (:func:`leaving`), so the exit does not walk it.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused() -> Iterator[None]:
    """No cyclic collection inside the block (reference counting frees as usual); the
    collector is back as it was after it."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def leaving() -> None:
    """The process is about to exit: move every tracked object out of the collector's
    reach, so the interpreter's final collections do not visit them."""
    gc.freeze()
