"""Who is asking: page logins (a signed session cookie) and API tokens (``Bearer``), roles, and
the Redis rate limit on failed logins.

Reading needs the viewer role; every write needs dispatcher or admin.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import redis
from flask import Flask, current_app, g, request, session

from app import users
from app.errors import Forbidden, TooManyRequests, Unauthorized
from app.extensions import db, state, state_version
from gis.models import User

LOGGER = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])


def init_app(app: Flask) -> None:
    app.before_request(load_user)


def load_user() -> None:
    """Set ``g.user`` from a Bearer token or the login session (None when anonymous)."""
    g.user = None
    header = request.headers.get("Authorization")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            msg = "the Authorization header must be 'Bearer <token>'"
            raise Unauthorized(msg, field="Authorization")
        user = users.caller_for_token(
            db, token.strip(), kept=state().callers, state=state_version()
        )
        if user is None:
            msg = "the API token is invalid or revoked"
            raise Unauthorized(msg, field="Authorization")
        g.user = user
        return
    uid = session.get("uid")
    if uid is not None:
        user = db().get(User, uid)
        if user is not None and user.active and session.get("pw") == _pw_stamp(user):
            g.user = users.Caller.of(user)
        else:
            session.clear()


def current_user() -> users.Caller | None:
    return g.get("user")


def actor() -> str:
    user = current_user()
    return user.name if user is not None else "anonymous"


def require_role(role: str) -> None:
    user = current_user()
    if user is None:
        msg = "log in or send 'Authorization: Bearer <token>'"
        raise Unauthorized(msg)
    if not users.has_role(user, role):
        msg = f"this needs the {role} role; {user.name} is {user.role}"
        raise Forbidden(msg)


def role_required(role: str) -> Callable[[F], F]:
    def deco(fn: F) -> F:
        @wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            require_role(role)
            return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return deco


def login(name: str, password: str) -> User:
    """Check the password, rate-limited per name and address; start a session on success.

    Raises
    ------
    TooManyRequests
        After ``LOGIN_MAX_FAILURES`` failures within ``LOGIN_WINDOW_S``.
    Unauthorized
        Wrong name or password (the message does not say which).
    """
    key = f"{current_app.config['REDIS_PREFIX']}login:fail:{name.lower()}:{request.remote_addr}"
    limit = current_app.config["LOGIN_MAX_FAILURES"]
    window = current_app.config["LOGIN_WINDOW_S"]
    client = state().redis
    failures, ttl = _failures(client, key)
    if failures >= limit:
        msg = f"too many failed logins for {name!r}; try again in {max(ttl, 1)} s"
        raise TooManyRequests(msg, field="name", retry_after=max(ttl, 1))
    session_db = db()
    user = users.check_password(session_db, name, password)
    if user is None:
        _count_failure(client, key, window)
        msg = "wrong user name or password"
        raise Unauthorized(msg, field="password")
    session_db.commit()
    _reset(client, key)
    session.clear()
    session.permanent = True
    session["uid"] = user.id
    session["pw"] = _pw_stamp(user)
    g.user = users.Caller.of(user)
    return user


def logout() -> None:
    session.clear()


def _pw_stamp(user: User) -> str:
    """Changes when the password changes, so a password change ends the old sessions."""
    return (user.password_hash or "")[-16:]


def _failures(client: redis.Redis, key: str) -> tuple[int, int]:
    try:
        pipe = client.pipeline()
        pipe.get(key)
        pipe.ttl(key)
        count, ttl = pipe.execute()
    except redis.RedisError as err:
        # Redis carries rate limits; when it is down, logins still work (logged).
        LOGGER.warning("login rate limit unavailable: %s", err)
        return 0, 0
    return int(count or 0), int(ttl or 0)


def _count_failure(client: redis.Redis, key: str, window: int) -> None:
    try:
        pipe = client.pipeline()
        pipe.incr(key)
        pipe.expire(key, window, nx=True)
        pipe.execute()
    except redis.RedisError as err:
        LOGGER.warning("login failure not counted, Redis unavailable: %s", err)


def _reset(client: redis.Redis, key: str) -> None:
    with contextlib.suppress(redis.RedisError):
        client.delete(key)
