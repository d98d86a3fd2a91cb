"""Young garbage collected between requests, not inside them.

A request leaves cyclic garbage behind (a database session, statement objects, a request
context: a few hundred objects), which only the garbage collector frees. Python collects when
the young generation has grown by a threshold of allocations (20,000 here, see
:data:`app.GC_THRESHOLDS`), in whichever request is running then: on the Porto benchmark a
worker paused 13-28 ms in some dispatch commits, freeing up to 18,000 objects left by the
requests before. Here, once a response has been sent (the server closes its body), the young
generation is collected if it has grown past :data:`AFTER_RESPONSE`, so that the collections
fall between requests; one request that allocates more than the threshold by itself is still
collected inside, as before.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.wsgi import ClosingIterator

#: Young-generation count past which a collection runs once a response is sent.
AFTER_RESPONSE = 5_000

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def collect_after_response(wsgi_app: WsgiApp) -> WsgiApp:
    """``wsgi_app``, collecting the young generation after each response is sent."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        return ClosingIterator(wsgi_app(environ, start_response), [collect_young])

    return app


def collect_young() -> None:
    """Collect the young generation (and the middle one when it is due) if it has grown past
    :data:`AFTER_RESPONSE`; the oldest generation is left to Python's own schedule."""
    young, middle, _ = gc.get_count()
    if young <= AFTER_RESPONSE:
        return
    gc.collect(1 if middle + 1 > gc.get_threshold()[1] else 0)
