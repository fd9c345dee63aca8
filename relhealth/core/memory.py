"""The cyclic garbage collector, paused around work that allocates a great deal at once.

A full collection walks every object the process holds (the imported libraries, fonts,
caches) however little of it is garbage. Work that allocates hundreds of thousands of objects
(a wave's invitations, an import, fetching an account's answers, drawing a PDF report) sets
off such collections again and again; pausing the collector for its duration leaves one young
collection afterwards, over what that work left behind, instead.

The collector is one per process, so pauses are counted: it runs again when the last of the
pauses under way (nested, or in other threads of a threaded server) ends, and only if it was
running when the first began.
"""

import contextlib
import gc
import threading
from collections.abc import Iterator

_LOCK = threading.Lock()
_pauses = 0
_resume = False  # whether the collector was running when the current pauses began


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector for a ``with`` block (or, as ``@paused_gc()``, a
    function). Reference counting frees memory meanwhile as usual; cyclic garbage made
    meanwhile waits for the first collection after the last pause ends."""
    global _pauses, _resume
    with _LOCK:
        if _pauses == 0:
            _resume = gc.isenabled()
            gc.disable()
        _pauses += 1
    try:
        yield
    finally:
        with _LOCK:
            _pauses -= 1
            if _pauses == 0 and _resume:
                gc.enable()
