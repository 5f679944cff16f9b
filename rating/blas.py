"""One BLAS thread for the engine's small dense algebra.

The matrices of a rating fit are small (models × models). A multi-threaded
BLAS gains nothing on them and loses badly when the other cores are busy, as
they are on a machine that also runs the web app and the workers: OpenBLAS's
threads wait for a core to come free. Measured on a 2-core machine with a
second process busy: the 129-model point fit took 130–290 ms instead of 4.5 ms,
and one 129×129 by 129×50 product 6.9 ms instead of 0.09 ms.
:func:`one_thread` limits the BLAS to one thread for the duration of a call
(through threadpoolctl) and restores the previous limit afterwards.
"""

from __future__ import annotations

import functools

from threadpoolctl import threadpool_limits


def one_thread():
    """Context manager: BLAS on one thread inside the ``with`` block."""
    return threadpool_limits(limits=1, user_api="blas")


def single_threaded(func):
    """Decorator: run ``func`` with :func:`one_thread`."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with one_thread():
            return func(*args, **kwargs)

    return wrapper
