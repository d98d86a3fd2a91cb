"""Errors of the plans package; each carries an HTTP status and a message safe to show a user."""

from __future__ import annotations

from gis.errors import DomainError


class PlansError(DomainError):
    """Base of every error raised by :mod:`plans`."""


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


class CapInvalid(PlansError, ValueError):
    """A CAP 1.2 alert cannot be written or read as given: a naive time, an identifier with a
    space or comma, a polygon of fewer than four points, a document that is not CAP 1.2
    (HTTP 422)."""

    status = 422
    code = "invalid_cap"
