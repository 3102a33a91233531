"""Staff accounts, their organisations, signed-in sessions and the audit log.

Passwords are argon2id hashes (argon2-cffi). A session is a random token in the browser's
cookie; the database keeps only its keyed hash, so a copy of the database opens no
session. Disabling a user revokes every session of theirs at once.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker

from .database import READ_ONLY
from .models import AuditEntry, KindAccess, Organisation, StaffSession, StaffUser

ROLES = ("admin", "caseworker", "partner", "auditor")
RULES = ("always", "shared", "vulnerable", "on_duty")
SLUG = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,62})")
SESSION_LIFETIME = timedelta(hours=10)
_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("not a password anyone has")


class StaffError(ValueError):
    """A refused change (unknown organisation, taken e-mail address…), said plainly."""


@dataclass(frozen=True, slots=True)
class Staff:
    """A staff member as the back office sees them, with their organisation's access rules."""

    id: int
    email: str
    role: str
    organisation: str
    """The organisation's slug."""
    organisation_id: int
    on_duty: bool
    language: str | None
    disabled: bool
    kind_rules: tuple[tuple[str, str], ...] = ()
    """(case kind, rule) pairs of the organisation (models.KindAccess)."""


@dataclass(frozen=True, slots=True)
class AuditLine:
    at: datetime
    actor: str
    action: str
    case_reference: str | None
    detail: str | None


def normalise_email(email: str) -> str:
    return email.strip().lower()


class StaffDirectory:
    def __init__(self, store: Any) -> None:
        self._store = store
        self._sessions = async_sessionmaker(store.engine, expire_on_commit=False)
        self._reads = async_sessionmaker(store.engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False)

    def _token_hash(self, token: str) -> str:
        return str(self._store.cipher.lookup_hash("staff-session", token))

    # --- organisations ------------------------------------------------------------

    async def organisations(self) -> list[tuple[str, str, list[tuple[str, str]]]]:
        """(slug, name, [(kind, rule)…]) for every organisation."""
        async with self._reads() as session:
            orgs = (await session.scalars(select(Organisation).order_by(Organisation.slug))).all()
            access = (await session.scalars(select(KindAccess).order_by(KindAccess.kind))).all()
        return [(o.slug, o.name, [(a.kind, a.rule) for a in access if a.organisation_id == o.id]) for o in orgs]

    async def add_organisation(self, slug: str, name: str) -> None:
        if not SLUG.fullmatch(slug):
            raise StaffError(f"not an organisation slug: {slug!r} (lower-case letters, digits and -)")
        async with self._store.locks.writer(), self._sessions() as session, session.begin():
            if await session.scalar(select(Organisation.id).where(Organisation.slug == slug)) is not None:
                raise StaffError(f"organisation {slug} exists already")
            session.add(Organisation(slug=slug, name=name.strip() or slug))

    async def set_kind_access(self, kind: str, slug: str, rule: str | None) -> None:
        """Let ``slug`` see ``kind`` under ``rule``; ``None`` takes it away."""
        if rule is not None and rule not in RULES:
            raise StaffError(f"unknown rule {rule!r}; one of {', '.join(RULES)}")
        async with self._store.locks.writer(), self._sessions() as session, session.begin():
            org_id = await self._org_id(session, slug)
            row = await session.scalar(
                select(KindAccess).where(KindAccess.kind == kind, KindAccess.organisation_id == org_id)
            )
            if rule is None:
                if row is not None:
                    await session.delete(row)
            elif row is None:
                session.add(KindAccess(kind=kind, organisation_id=org_id, rule=rule))
            else:
                row.rule = rule

    @staticmethod
    async def _org_id(session: Any, slug: str) -> int:
        org_id = await session.scalar(select(Organisation.id).where(Organisation.slug == slug))
        if org_id is None:
            raise StaffError(f"no organisation {slug!r} (see `intake orgs list`)")
        return int(org_id)

    # --- users --------------------------------------------------------------------

    async def add_user(self, email: str, password: str, role: str, organisation: str, now: datetime) -> Staff:
        email = normalise_email(email)
        if role not in ROLES:
            raise StaffError(f"unknown role {role!r}; one of {', '.join(ROLES)}")
        if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
            raise StaffError(f"not an e-mail address: {email!r}")
        if len(password) < 12:
            raise StaffError("a password needs at least 12 characters")
        try:
            async with self._store.locks.writer(), self._sessions() as session, session.begin():
                org_id = await self._org_id(session, organisation)
                user = StaffUser(
                    email=email, password_hash=_hasher.hash(password), role=role,
                    organisation_id=org_id, on_duty=False, created_at=now,
                )
                session.add(user)
        except IntegrityError:
            raise StaffError(f"a user {email} exists already") from None
        found = await self.user(email)
        assert found is not None
        return found

    async def user(self, email: str) -> Staff | None:
        async with self._reads() as session:
            row = await session.execute(self._user_query().where(StaffUser.email == normalise_email(email)))
            found = row.first()
            return await self._staff(session, *found) if found else None

    async def user_by_id(self, user_id: int) -> Staff | None:
        async with self._reads() as session:
            found = (await session.execute(self._user_query().where(StaffUser.id == user_id))).first()
            return await self._staff(session, *found) if found else None

    async def users(self, organisation: str | None = None) -> list[Staff]:
        query = self._user_query().order_by(StaffUser.email)
        if organisation:
            query = query.where(Organisation.slug == organisation)
        async with self._reads() as session:
            return [await self._staff(session, user, slug, rules=False) for user, slug in (await session.execute(query)).all()]

    async def has_users(self) -> bool:
        async with self._reads() as session:
            return bool(await session.scalar(select(func.count()).select_from(StaffUser)))

    async def disable_user(self, email: str, now: datetime) -> None:
        """Disable the account and revoke its sessions (they stop working at once)."""
        async with self._store.locks.writer(), self._sessions() as session, session.begin():
            user = await session.scalar(select(StaffUser).where(StaffUser.email == normalise_email(email)))
            if user is None:
                raise StaffError(f"no user {email}")
            user.disabled_at = user.disabled_at or now
            user.on_duty = False
            await session.execute(
                update(StaffSession)
                .where(StaffSession.user_id == user.id, StaffSession.revoked_at.is_(None))
                .values(revoked_at=now)
            )

    async def set_profile(self, user_id: int, *, on_duty: bool, language: str | None) -> None:
        async with self._store.locks.writer(), self._sessions() as session, session.begin():
            await session.execute(
                update(StaffUser).where(StaffUser.id == user_id).values(on_duty=on_duty, language=language or None)
            )

    @staticmethod
    def _user_query() -> Any:
        return select(StaffUser, Organisation.slug).join(Organisation, StaffUser.organisation_id == Organisation.id)

    @staticmethod
    async def _staff(session: Any, user: StaffUser, slug: str, rules: bool = True) -> Staff:
        kind_rules: tuple[tuple[str, str], ...] = ()
        if rules:
            found = await session.execute(
                select(KindAccess.kind, KindAccess.rule).where(KindAccess.organisation_id == user.organisation_id)
            )
            kind_rules = tuple(sorted((k, r) for k, r in found.all()))
        return Staff(
            id=user.id, email=user.email, role=user.role, organisation=slug,
            organisation_id=user.organisation_id, on_duty=bool(user.on_duty), language=user.language,
            disabled=user.disabled_at is not None, kind_rules=kind_rules,
        )

    # --- signing in ---------------------------------------------------------------

    async def authenticate(self, email: str, password: str) -> Staff | None:
        """The enabled user with this password, else None (same work either way)."""
        async with self._reads() as session:
            found = (await session.execute(self._user_query().where(StaffUser.email == normalise_email(email)))).first()
        stored = found[0].password_hash if found else _DUMMY_HASH
        try:
            _hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return None
        if found is None or found[0].disabled_at is not None:
            return None
        if _hasher.check_needs_rehash(stored):
            async with self._store.locks.writer(), self._sessions() as session, session.begin():
                await session.execute(
                    update(StaffUser).where(StaffUser.id == found[0].id).values(password_hash=_hasher.hash(password))
                )
        return await self.user_by_id(found[0].id)

    async def open_session(self, user: Staff, now: datetime, lifetime: timedelta = SESSION_LIFETIME) -> str:
        token = secrets.token_urlsafe(32)
        async with self._store.locks.writer(), self._sessions() as session, session.begin():
            session.add(StaffSession(
                token_hash=self._token_hash(token), user_id=user.id, created_at=now, expires_at=now + lifetime,
            ))
        return token

    async def session_user(self, token: str, now: datetime) -> Staff | None:
        """The user of a live session: not expired, not revoked, user not disabled."""
        async with self._reads() as session:
            found = (
                await session.execute(
                    self._user_query()
                    .join(StaffSession, StaffSession.user_id == StaffUser.id)
                    .where(
                        StaffSession.token_hash == self._token_hash(token),
                        StaffSession.revoked_at.is_(None),
                        StaffSession.expires_at > now,
                        StaffUser.disabled_at.is_(None),
                    )
                )
            ).first()
            return await self._staff(session, *found) if found else None

    async def close_session(self, token: str, now: datetime) -> None:
        async with self._store.locks.writer(), self._sessions() as session, session.begin():
            await session.execute(
                update(StaffSession).where(StaffSession.token_hash == self._token_hash(token)).values(revoked_at=now)
            )

    # --- the audit log ------------------------------------------------------------

    async def audit(
        self, actor: Staff | None, action: str, now: datetime, case_reference: str | None = None, detail: str | None = None
    ) -> None:
        async with self._store.locks.writer(), self._sessions() as session, session.begin():
            session.add(AuditEntry(
                at=now, actor_id=actor.id if actor else None, actor=actor.email if actor else "-",
                action=action, case_reference=case_reference, detail=detail,
            ))

    async def audit_log(
        self, *, limit: int = 100, offset: int = 0, case_reference: str | None = None
    ) -> tuple[list[AuditLine], int]:
        query = select(AuditEntry)
        if case_reference:
            query = query.where(AuditEntry.case_reference == case_reference)
        async with self._reads() as session:
            total = await session.scalar(select(func.count()).select_from(query.subquery()))
            rows = (await session.scalars(query.order_by(AuditEntry.id.desc()).limit(limit).offset(offset))).all()
        return [AuditLine(r.at, r.actor, r.action, r.case_reference, r.detail) for r in rows], int(total or 0)

