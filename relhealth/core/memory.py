"""The cyclic garbage collector, paused around work that allocates a great deal at once.

A full collection walks every object the process holds (the imported libraries, fonts,
caches) however little of it is garbage. Work that allocates hundreds of thousands of objects
(a wave's invitations, an import, fetching an account's answers, drawing a PDF report) sets
off such collections again and again; pausing the collector for its duration leaves one young
collection afterwards, over what that work left behind, instead.
"""

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector for a ``with`` block (or, as ``@paused_gc()``, a
    function), then restore it as it was. Reference counting frees memory meanwhile as
    usual; cyclic garbage made meanwhile waits for the first collection after it."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
