"""Errors of the plans package; each carries an HTTP status and a message safe to show a user."""

from __future__ import annotations


class PlansError(Exception):
    """Base of every error raised by :mod:`plans`."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, field: str | None = None, **details: object) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.details = details


class UnknownIncidentType(PlansError, ValueError):
    """An incident type code that the taxonomy does not know (HTTP 422)."""

    status = 422
    code = "unknown_incident_type"
