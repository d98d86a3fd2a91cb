"""Users, roles and API tokens: storage and the checks on them.

Passwords are hashed with Argon2id; API tokens are random and only their SHA-256 digest is kept.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.errors import BadRequest
from app.lru import Lru
from gis.errors import ConstraintViolation, NotFound
from gis.models import ApiToken, User
from gis.repository import write_audit

ROLES = ("viewer", "dispatcher", "admin")
RANK = {role: i for i, role in enumerate(ROLES)}
NAME_RE = re.compile(r"^[\w.@-]{2,64}$")
TOKEN_PREFIX = "om_"
_HASHER = PasswordHasher()
# A hash to verify against when the user does not exist, so timing does not reveal names.
_DUMMY_HASH = _HASHER.hash("onemap-no-such-user")


def has_role(user: User | Caller | None, role: str) -> bool:
    return user is not None and user.active and RANK[user.role] >= RANK[role]


def create_user(
    session: Session, name: str, role: str, password: str | None, *, actor: str
) -> User:
    """Create a user; ``password`` may be None for a machine user that only uses tokens."""
    if not NAME_RE.match(name or ""):
        msg = "user names are 2-64 letters, digits, '.', '_', '-' or '@'"
        raise BadRequest(msg, field="name")
    if role not in RANK:
        msg = f"unknown role {role!r}; allowed: {', '.join(ROLES)}"
        raise BadRequest(msg, field="role")
    if password is not None and len(password) < 8:
        msg = "passwords need at least 8 characters"
        raise BadRequest(msg, field="password")
    if session.scalar(select(User).where(User.name == name)) is not None:
        msg = f"user {name!r} exists already"
        raise ConstraintViolation(msg, field="name")
    user = User(name=name, role=role, password_hash=_HASHER.hash(password) if password else None)
    session.add(user)
    session.flush()
    write_audit(
        session,
        actor=actor,
        action="create",
        entity="users",
        entity_id=user.id,
        before=None,
        after={"name": name, "role": role},
    )
    return user


def set_password(session: Session, user: User, password: str, *, actor: str) -> None:
    if len(password) < 8:
        msg = "passwords need at least 8 characters"
        raise BadRequest(msg, field="password")
    user.password_hash = _HASHER.hash(password)
    write_audit(
        session,
        actor=actor,
        action="set_password",
        entity="users",
        entity_id=user.id,
        before=None,
        after={"name": user.name},
    )


def user_by_name(session: Session, name: str) -> User:
    user = session.scalar(select(User).where(User.name == name))
    if user is None:
        msg = f"no user {name!r}"
        raise NotFound(msg, field="name")
    return user


def check_password(session: Session, name: str, password: str) -> User | None:
    """The active user whose password this is, or None (same work whether or not it exists)."""
    user = session.scalar(select(User).where(User.name == name))
    stored = user.password_hash if user is not None and user.password_hash else _DUMMY_HASH
    try:
        _HASHER.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or not user.active or not user.password_hash:
        return None
    if _HASHER.check_needs_rehash(stored):
        user.password_hash = _HASHER.hash(password)
    return user


def create_token(session: Session, user: User, *, label: str | None, actor: str) -> str:
    """A new API token for ``user``; the clear token is returned once and never stored."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, digest=_digest(token), label=label))
    session.flush()
    write_audit(
        session,
        actor=actor,
        action="create_token",
        entity="users",
        entity_id=user.id,
        before=None,
        after={"name": user.name, "label": label},
    )
    return token


@dataclass(frozen=True)
class Caller:
    """Who is asking, as a request needs it (name, role, active): a plain value, safe to keep
    between requests where a database row is not."""

    id: int
    name: str
    role: str
    active: bool

    @classmethod
    def of(cls, user: User) -> Caller:
        return cls(user.id, user.name, user.role, user.active)


def user_for_token(session: Session, token: str) -> User | None:
    return _user_for_digest(session, _digest(token))


def _user_for_digest(session: Session, digest: str) -> User | None:
    row = session.scalar(
        select(ApiToken).where(ApiToken.digest == digest, ApiToken.revoked_at.is_(None))
    )
    if row is None or not row.user.active:
        return None
    return row.user


def caller_for_token(
    session: Callable[[], Session], token: str, *, kept: Lru[Any] | None, state: str | None
) -> Caller | None:
    """The caller an API token belongs to; None when it is unknown, revoked or its user
    inactive. ``kept`` remembers the answer under the state counter ``state``: revoking a
    token bumps the counter, so a revoked token is refused on its next use, and a token in use
    costs no database query while nothing changes. Unknown tokens are never kept (a flood of
    forged ones cannot push the real ones out). ``session`` opens the request's session, only
    when the database has to be asked."""
    digest = _digest(token)
    if kept is not None and state is not None:
        hit = kept.get(digest)
        if hit is not None and hit[0] == state:
            return hit[1]
    user = _user_for_digest(session(), digest)
    if user is None:
        return None
    caller = Caller.of(user)
    if kept is not None and state is not None:
        kept.put(digest, (state, caller))
    return caller


def revoke_tokens(session: Session, user: User, *, actor: str) -> int:
    rows = session.scalars(
        select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
    ).all()
    now = datetime.now(UTC)
    for row in rows:
        row.revoked_at = now
    write_audit(
        session,
        actor=actor,
        action="revoke_tokens",
        entity="users",
        entity_id=user.id,
        before=None,
        after={"name": user.name, "revoked": len(rows)},
    )
    return len(rows)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
