"""The suite's process and its cyclic garbage collector: paused while it imports, then frozen before it forks.

The suite's process holds torch, scikit-learn, scipy and hypothesis: some 400,000 objects that
live as long as it does. Python's collector scans all of them in each full collection, and the
imports allocate enough to trigger several (a second and a half of a start-up on two cores).
Every child forked from that process then scans them again, from each check's own allocations.

So while the suite imports and collects, the collector waits (:func:`hold_collection`); once it
has imported what it needs and before it forks its workers, what it holds is frozen into the
permanent generation, which no later collection scans, and the collector starts again
(:func:`freeze_and_release`). Imports leave next to no cyclic garbage (a few dozen objects),
so no collection runs first: with torch loaded, one costs a fifth of a second. A process forked while the collector waits
gets it back at once, so every estimator runs with the collector on, as it would anywhere.

:func:`check` runs in its caller's process, which is theirs: there the heap is frozen only for
the run (:func:`frozen_while_checking`) and given back to the collector after it.
"""

from __future__ import annotations

import contextlib
import gc
import os

_held = False
_fork_hook_registered = False


def hold_collection() -> None:
    """Pause the collector (when it runs) until :func:`freeze_and_release`; children forked meanwhile get it back."""
    global _held, _fork_hook_registered
    if _held or not gc.isenabled():
        return
    if not _fork_hook_registered and hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_resume_in_child)
        _fork_hook_registered = True
    gc.disable()
    _held = True


def freeze_and_release() -> None:
    """Freeze what this process holds (its imports) and start the collector again; nothing if it was not held."""
    global _held
    if not _held:
        return
    gc.freeze()
    _held = False
    gc.enable()


@contextlib.contextmanager
def frozen_while_checking():
    """Freeze this process's objects while the block forks checks from it; unfreeze them after (unless frozen before)."""
    already = gc.get_freeze_count() > 0
    gc.freeze()
    try:
        yield
    finally:
        if not already:
            gc.unfreeze()


def _resume_in_child() -> None:
    global _held
    if _held:
        _held = False
        gc.enable()
