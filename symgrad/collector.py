"""Python's cyclic garbage collector, set to run rarely while a worked example is made.

A derivation makes many objects that live as long as it does; with the default settings
the collector's full collections scan all of them again and again, and a 5000-layer chain
spent about a quarter of its time there, a share that grows with depth. Inside
:func:`collecting_rarely` the objects already alive (the imported modules) are frozen out
of the collector and it runs rarely; on leaving, its settings are restored and the frozen
objects are its own again. Memory stays bounded: young objects are still collected.
"""

from __future__ import annotations

import contextlib
import gc
import threading

__all__ = ["collecting_rarely", "RARELY"]

# Allocations between young collections, and young (then middle) collections per older one.
RARELY = (100_000, 50, 100)

_lock = threading.Lock()
_entered = 0
_saved: tuple[tuple[int, int, int], bool] | None = None


@contextlib.contextmanager
def collecting_rarely():
    """Run the block (or, as a decorator, the function) with the collector set to
    :data:`RARELY`; nested uses keep the outermost one's settings to restore.

    >>> import gc
    >>> before = gc.get_threshold()
    >>> with collecting_rarely():
    ...     gc.get_threshold()
    (100000, 50, 100)
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
            gc.set_threshold(*RARELY)
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
