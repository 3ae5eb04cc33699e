"""The context every service receives: database session, who acts, settings, protocol."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from ketapain.capture import roles
from ketapain.capture.audit import Actor
from ketapain.capture.config import Settings
from ketapain.capture.models import Base, Patient, Study, User
from ketapain.capture.security import LoginLimiter, verify_password
from ketapain.errors import AuthenticationFailed, NotFound
from ketapain.protocol import Protocol

__all__ = ["Context"]

M = TypeVar("M", bound=Base)


@dataclass(frozen=True, slots=True)
class Context:
    """Session + actor + settings + protocol. Services flush; the caller commits once."""

    session: Session
    actor: Actor
    settings: Settings
    protocol: Protocol
    limiter: LoginLimiter | None = None
    """Counts failed password re-entries (``reauth:<user id>``: delays after a few; None: not
    counted, e.g. a script's context)."""

    @property
    def locked(self) -> bool:
        return bool(self.session.execute(select(Study.locked).limit(1)).scalar())

    @property
    def blinded(self) -> bool:
        return roles.is_blinded(self.actor.role, locked=self.locked)

    def require(self, action: str) -> None:
        roles.require(self.actor.role, action)

    def one(self, model: type[M], what: str, **where: Any) -> M:
        """The record of ``model`` matching ``where`` (column=value), else :class:`NotFound`.

        A value with a NUL character matches nothing (no stored text holds one) and is not
        sent to the database: PostgreSQL refuses it (the pages, which take ids from the URL,
        answered 500)."""
        nul = any(isinstance(v, str) and "\x00" in v for v in where.values())
        obj = None if nul else self.session.execute(select(model).filter_by(**where)).scalars().first()
        if obj is None:
            raise NotFound(f"{what} not found: " + ", ".join(f"{k}={v!r}" for k, v in where.items()))
        return obj

    def patient(self, patient_id: str) -> Patient:
        return self.one(Patient, "patient", patient_id=patient_id)

    def check_password(self, password: str) -> User:
        """Re-authentication for signatures, unlock and unblinding."""
        key = f"reauth:{self.actor.user_id}"
        if self.limiter is not None:
            self.limiter.check(key)
        user = self.session.get(User, self.actor.user_id) if self.actor.user_id is not None else None
        if user is None or not verify_password(user.password_hash, password):
            if self.limiter is not None:
                self.limiter.failure(key)
            raise AuthenticationFailed("password: the password is not correct")
        if self.limiter is not None:
            self.limiter.success(key)
        return user
