"""Python's cyclic garbage collector around a command-line run.

A command imports numpy, polars or scipy: a few hundred thousand objects that
live until the process ends. While they are made, the collector's allocation
counters trigger collections that visit them again and again (about 0.1 s of
CPU for ``arena rate``), and at exit the interpreter's last collections visit
them all once more (0.1-0.2 s). So imports (and ``arena rate``'s read) run
with the collector paused (:func:`paused`); under the ``arena`` script
(:func:`script`) what such a block made is then frozen (``gc.freeze``: out of
every later collection's reach, freed by reference counting as usual), and so
is everything when the command returns. Without the script (tests call the
command in their own process) the collector is only paused and resumed.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

_script = False  # True while the arena script runs its command


@contextmanager
def script() -> Iterator[None]:
    """The ``arena`` script's command: the process ends when it does, so what is alive
    then is frozen (the exit's collections would only walk it)."""
    global _script
    _script = True
    try:
        yield
    finally:
        gc.freeze()


@contextmanager
def paused() -> Iterator[None]:
    """No cyclic collection inside the block (reference counting frees as usual); under
    :func:`script` what the block made is frozen after it (it would be the next
    collection's work: modules live until the exit), then the collector is back as it
    was."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if _script:
            gc.freeze()
        if enabled:
            gc.enable()
