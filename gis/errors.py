"""Errors of the spatial data layer.

Each carries an HTTP status and a message that is safe to show a user; ``field`` names the
input field at fault (a dotted path such as ``properties.capacity`` or ``features[3].geometry``).
"""

from __future__ import annotations


class DomainError(Exception):
    """What every OneMap error carries: an HTTP status, a code, a message safe to show a user,
    the field at fault, and details. Each package derives its own base from it."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, field: str | None = None, **details: object) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.details = details


class GisError(DomainError):
    """Base of every error raised by :mod:`gis`."""


class InvalidInput(GisError, ValueError):
    """The input is well-formed but a value is not acceptable (HTTP 422)."""

    status = 422
    code = "invalid"


class MalformedInput(GisError, ValueError):
    """The input cannot be parsed at all: broken JSON, GeoJSON or CSV (HTTP 400)."""

    status = 400
    code = "malformed"


class NotFound(GisError, LookupError):
    """No row with that id (HTTP 404)."""

    status = 404
    code = "not_found"


class StaleVersion(GisError):
    """The write carried a version that is no longer current (HTTP 409)."""

    status = 409
    code = "stale_version"


class ConstraintViolation(GisError):
    """The database refused the write because a constraint would break (HTTP 409)."""

    status = 409
    code = "conflict"


class InvalidTransition(GisError, ValueError):
    """A status change that the state machine does not allow (HTTP 409)."""

    status = 409
    code = "invalid_transition"


class TooLarge(GisError):
    """The upload is larger than the configured limit (HTTP 413)."""

    status = 413
    code = "too_large"
