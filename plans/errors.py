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


class PlanInvalid(PlansError, ValueError):
    """A plan document breaks the schema; the message names the file, the line and the field
    (HTTP 422)."""

    status = 422
    code = "invalid_plan"


class NoMatch(PlansError, LookupError):
    """No plan covers the incident; the message says why (HTTP 422)."""

    status = 422
    code = "no_plan"
