"""Errors of the routing package; each carries an HTTP status and a message safe to show a user."""

from __future__ import annotations

from gis.errors import DomainError


class RoutingError(DomainError):
    """Base of every error raised by :mod:`routing`."""


class UnknownGraph(RoutingError, LookupError):
    """No road graph of that name has been imported (HTTP 404)."""

    status = 404
    code = "unknown_graph"


class SnapTooFar(RoutingError, ValueError):
    """A point is further from every road than the maximum snap distance (HTTP 422)."""

    status = 422
    code = "too_far_from_road"


class NoPath(RoutingError):
    """There is no path; ``reason`` says why: ``unreachable``, ``closed`` or ``inside_closure``
    (HTTP 422)."""

    status = 422
    code = "no_path"


class GraphImportFailed(RoutingError, ValueError):
    """A road file cannot be turned into a graph (HTTP 422)."""

    status = 422
    code = "import_failed"


class BadRequest(RoutingError, ValueError):
    """A query value is wrong (HTTP 422)."""

    status = 422
    code = "invalid"
