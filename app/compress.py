"""gzip for the answers that shrink: JSON and GeoJSON, the pages, their scripts and styles, XML.

Field teams and offline command posts often sit on slow links: Leaflet's script is 147 kB
plain and about 42 kB gzipped, a layer's GeoJSON shrinks five- to tenfold. An answer is
compressed when the client accepts gzip, it is a success, it is at least :data:`MIN_BYTES`, its
type is in :data:`TYPES`, and it is not a stream (the live event stream is never buffered).
Static files are compressed once per version (their ETag) and kept in a small cache.
"""

from __future__ import annotations

import gzip

from flask import Flask, Response, request

from app.lru import Lru

MIN_BYTES = 1024
LEVEL = 6
TYPES = frozenset(
    {
        "application/json",
        "application/geo+json",
        "application/javascript",
        "text/javascript",
        "text/css",
        "text/html",
        "text/plain",
        "text/csv",
        "image/svg+xml",
        "application/xml",
        "application/atom+xml",
        "application/cap+xml",
        "application/gpx+xml",
    }
)
_CACHE_ITEMS = 64


def init_app(app: Flask) -> None:
    cache: Lru[bytes] = Lru(_CACHE_ITEMS)

    @app.after_request
    def _gzip(resp: Response) -> Response:
        return compress(resp, cache)


def compress(resp: Response, cache: Lru[bytes] | None = None) -> Response:
    """``resp`` gzipped when the request accepts it and it is worth it; else unchanged."""
    if (
        resp.status_code != 200
        or resp.mimetype not in TYPES
        or "Content-Encoding" in resp.headers
        or "gzip" not in request.accept_encodings
        or (resp.is_streamed and not resp.direct_passthrough)
    ):
        return resp
    etag, _ = resp.get_etag()
    key = f"{request.path}|{etag}" if etag and resp.direct_passthrough else None
    packed = cache.get(key) if cache is not None and key else None
    source = resp.response  # a static file's reader: closed once replaced
    resp.direct_passthrough = False
    if packed is None:
        data = resp.get_data()
        if len(data) < MIN_BYTES:
            return resp
        packed = gzip.compress(data, compresslevel=LEVEL, mtime=0)
        if cache is not None and key:
            cache.put(key, packed)
    resp.set_data(packed)
    if hasattr(source, "close"):
        source.close()
    resp.headers["Content-Encoding"] = "gzip"
    resp.vary.add("Accept-Encoding")
    if etag:
        # weak: the same content in another encoding; a revalidation still gets its 304
        resp.set_etag(etag, weak=True)
    return resp
