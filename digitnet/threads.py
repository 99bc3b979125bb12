"""How many threads digitnet's matrix products use -- one, unless the user says otherwise.

numpy hands every matrix product to a BLAS library (OpenBLAS in numpy's wheels), which by
default starts one thread per core. For digitnet's matrices that is a loss: a product of
a 128 x 784 batch with a 784 x 16 layer is over before a second thread has woken up, and
when another program keeps one core busy -- every user's laptop -- the threads wait for
each other at every product. Measured on a 2-core machine with one core busy
(``python benchmarks/threads.py``): a training epoch of the default network takes 3.3x
longer with two threads than with one, and even the wide 784-512-256-10 network, which
gains at most ~1.1x from a second *idle* core, takes 2.0x longer when that core is busy.
So digitnet runs its training and its batch classification with one BLAS thread.

A thread count the user chose always wins: if any of the environment variables in
:data:`USER_VARIABLES` is set, digitnet leaves the BLAS library alone. The limit is set
with ``threadpoolctl`` (the well-kept way to change a loaded BLAS's thread pool at run
time) only for the duration of the work, so a program that imports digitnet keeps its
own settings everywhere else.

The ``digitnet`` command itself goes one step further (:func:`one_thread_from_the_start`):
before numpy loads it asks OpenBLAS, by its documented ``OPENBLAS_NUM_THREADS``, for one
thread from the start, so that the pool digitnet would limit to one thread anyway is
never started, which is much of what importing numpy costs when a core is busy: the
imports a one-file classify needs took 0.112 s this way against 0.168 s, and 0.106
against 0.111 s on an idle 2-core machine (``benchmarks/run.py --only coldstart``).
"""

from __future__ import annotations

import contextlib
import os

__all__ = ["USER_VARIABLES", "user_setting", "chosen_threads", "blas_threads",
           "one_thread_from_the_start"]

#: Environment variables by which a user sets BLAS/OpenMP thread counts; any one of them
#: set means: do not touch the thread pool.
USER_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                  "BLIS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "GOTO_NUM_THREADS")

# One BLAS thread for every network digitnet trains or runs (see the module docstring).
_THREADS = 1

_controller = None

# The variables one_thread_from_the_start set (name -> value): digitnet's, not the user's.
_OURS: dict = {}


def user_setting() -> dict:
    """The thread variables the user set (name -> value); empty if none is."""
    return {k: os.environ[k] for k in USER_VARIABLES
            if os.environ.get(k, "").strip() and _OURS.get(k) != os.environ[k]}


def one_thread_from_the_start() -> None:
    """For the ``digitnet`` command, before numpy is imported: unless the user set a
    thread variable, set ``OPENBLAS_NUM_THREADS=1`` -- which OpenBLAS reads when it
    loads -- so that it starts no thread pool (see the module docstring). Not for a
    program that imports digitnet: its numpy is its own. The variable stays set, as for
    any process the user starts with it, and is not counted as the user's."""
    if user_setting():
        return
    os.environ["OPENBLAS_NUM_THREADS"] = _OURS["OPENBLAS_NUM_THREADS"] = str(_THREADS)


def chosen_threads() -> int | None:
    """The BLAS thread count digitnet's work runs with: None if the user chose one."""
    return None if user_setting() else _THREADS


def blas_threads():
    """A context manager: inside it, the BLAS library uses :func:`chosen_threads` threads
    (unchanged if the user set a thread variable); the previous count is restored after.
    """
    n = chosen_threads()
    if n is None:
        return contextlib.nullcontext()
    global _controller
    if _controller is None:
        from threadpoolctl import ThreadpoolController  # imported only for real work
        _controller = ThreadpoolController()
    return _controller.limit(limits=n, user_api="blas")
