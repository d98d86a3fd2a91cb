"""Errors of the application layer, and the one handler that renders every error as JSON.

Every error body is ``{"error": {"code", "message", "field"}}``; no stack trace ever reaches a
user (unexpected errors are logged with an id that the answer carries).
"""

from __future__ import annotations

import logging
import uuid

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException

from gis.errors import DomainError

LOGGER = logging.getLogger(__name__)


class AppError(DomainError):
    """Base of errors raised by :mod:`app`."""


class BadRequest(AppError, ValueError):
    status = 400
    code = "bad_request"


class Unauthorized(AppError, PermissionError):
    status = 401
    code = "unauthorized"


class Forbidden(AppError, PermissionError):
    status = 403
    code = "forbidden"


class TooManyRequests(AppError):
    status = 429
    code = "too_many_requests"


DOMAIN_ERRORS = (DomainError,)


def error_body(code: str, message: str, field: str | None = None, **extra: object) -> dict:
    body: dict = {"code": code, "message": message, "field": field}
    body.update({k: v for k, v in extra.items() if v is not None})
    return {"error": body}


def register(app: Flask) -> None:
    """Install the JSON error handlers on ``app``."""

    def _domain(err: AppError):  # type: ignore[no-untyped-def]
        extra = {k: v for k, v in err.details.items() if isinstance(v, str | int | float | bool)}
        resp = jsonify(error_body(err.code, err.message, err.field, **extra))
        resp.status_code = err.status
        if err.status == 429 and "retry_after" in err.details:
            resp.headers["Retry-After"] = str(err.details["retry_after"])
        return resp

    for cls in DOMAIN_ERRORS:
        app.register_error_handler(cls, _domain)

    @app.errorhandler(HTTPException)
    def _http(err: HTTPException):  # type: ignore[no-untyped-def]
        if err.code == 413:
            limit = app.config.get("MAX_CONTENT_LENGTH")
            msg = f"the upload is larger than the limit of {limit} bytes"
            body = error_body("too_large", msg, "body", limit_bytes=limit)
        else:
            name = (err.name or "error").lower().replace(" ", "_")
            body = error_body(name, err.description or err.name or "error")
        if not _wants_json() and err.code in (404, 405):
            return err
        resp = jsonify(body)
        resp.status_code = err.code or 500
        return resp

    @app.errorhandler(Exception)
    def _unexpected(err: Exception):  # type: ignore[no-untyped-def]
        ref = uuid.uuid4().hex[:12]
        LOGGER.exception("unexpected error %s on %s %s", ref, request.method, request.path)
        msg = f"internal error; the administrators can find it in the log as {ref}"
        resp = jsonify(error_body("internal", msg, None, ref=ref))
        resp.status_code = 500
        return resp


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"
