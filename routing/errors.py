"""Errors of the routing package; each carries an HTTP status and a message safe to show a user."""

from __future__ import annotations


class RoutingError(Exception):
    """Base of every error raised by :mod:`routing`."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, field: str | None = None, **details: object) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.details = details
