"""Python's cyclic garbage collector, set to run rarely while a worked example is made.

A derivation makes many objects that live as long as it does; with the default settings
the collector's full collections scan all of them again and again, and a 5000-layer chain
spent about a quarter of its time there, a share that grows with depth. Inside
:func:`collecting_rarely` the objects already alive (the imported modules) are frozen out
of the collector and full collections are held off; on leaving, its settings are restored
and the frozen objects are its own again. Memory stays bounded: young objects are still
collected as often as Python's settings say (collecting them rarely, in batches of 100,000,
was slower: the batch no longer fits the processor's cache).
"""

from __future__ import annotations

import contextlib
import gc
import threading

__all__ = ["collecting_rarely", "FULL_EVERY"]

# Middle-generation collections per full one while held off: with Python's default
# thresholds that is about 7·10⁹ allocations, none in practice.
FULL_EVERY = 1_000_000

_lock = threading.Lock()
_entered = 0
_saved: tuple[tuple[int, int, int], bool] | None = None


@contextlib.contextmanager
def collecting_rarely():
    """Run the block (or, as a decorator, the function) with full collections held off
    (the third threshold raised to :data:`FULL_EVERY`); nested uses keep the outermost
    one's settings to restore.

    >>> import gc
    >>> before = gc.get_threshold()
    >>> with collecting_rarely():
    ...     gc.get_threshold() == (*before[:2], FULL_EVERY)
    True
    >>> gc.get_threshold() == before
    True
    """
    global _entered, _saved
    with _lock:
        if not _entered:
            # Someone else's frozen objects are theirs to unfreeze: freeze only if none are.
            froze = gc.get_freeze_count() == 0
            _saved = gc.get_threshold(), froze
            if froze:
                gc.freeze()
            young, middle, _ = _saved[0]
            gc.set_threshold(young, middle, FULL_EVERY)
        _entered += 1
    try:
        yield
    finally:
        with _lock:
            _entered -= 1
            if not _entered:
                thresholds, froze = _saved
                gc.set_threshold(*thresholds)
                if froze:
                    gc.unfreeze()
