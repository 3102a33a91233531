"""API tokens: a machine's key to the staff API, acting as a staff member of one role in
one organisation (so the back office's one access check applies to it unchanged).

A token is ``itk_`` and 256 random bits, shown once when it is made; the database keeps
only its SHA-256, so a copy of the database opens nothing. A token is refused once
revoked or expired, or when its organisation is gone.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker

from .database import READ_ONLY
from .models import ApiToken, KindAccess, Organisation
from .staff import ROLES, Staff, StaffError

PREFIX = "itk_"
NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
TOUCH_EVERY = timedelta(minutes=1)
"""``last_used_at`` is written at most this often per token (not one write per call)."""
MAX_DAYS = 3650


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """A token as listed (never the token itself)."""

    id: int
    name: str
    role: str
    organisation: str
    created_at: datetime
    created_by: str
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None

    def state(self, now: datetime) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_principal(token_id: int, name: str, role: str, organisation: str, organisation_id: int,
                    kind_rules: tuple[tuple[str, str], ...]) -> Staff:
    """The staff member a token acts as, for policy.can / visible_cases.

    Its id is the token's, negated, so the audit log tells tokens from people; it is never
    on duty (a machine does not take the ``on_duty`` rule's cases) and has no language."""
    return Staff(
        id=-token_id, email=f"token:{name}", role=role, organisation=organisation,
        organisation_id=organisation_id, on_duty=False, language=None, disabled=False, kind_rules=kind_rules,
    )


class TokenStore:
    def __init__(self, store: Any) -> None:
        self._store = store
        self._sessions = async_sessionmaker(store.engine, expire_on_commit=False)
        self._reads = async_sessionmaker(store.engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False)

    async def create(
        self, name: str, role: str, organisation: str, now: datetime, *, created_by: str, days: int | None = None
    ) -> tuple[TokenInfo, str]:
        """A new token: its listing and the token itself (shown once, never stored)."""
        name = name.strip().lower()
        if not NAME.fullmatch(name):
            raise StaffError(f"not a token name: {name!r} (lower-case letters, digits, . _ -; up to 64)")
        if role not in ROLES:
            raise StaffError(f"unknown role {role!r}; one of {', '.join(ROLES)}")
        if days is not None and not 1 <= days <= MAX_DAYS:
            raise StaffError(f"an expiry is 1 to {MAX_DAYS} days")
        token = PREFIX + secrets.token_urlsafe(32)
        try:
            async with self._store.locks.writer(), self._sessions() as session, session.begin():
                org_id = await session.scalar(select(Organisation.id).where(Organisation.slug == organisation))
                if org_id is None:
                    raise StaffError(f"no organisation {organisation!r} (see `intake orgs list`)")
                row = ApiToken(
                    name=name, token_hash=token_hash(token), role=role, organisation_id=org_id, created_at=now,
                    created_by=created_by[:254], expires_at=now + timedelta(days=days) if days else None,
                )
                session.add(row)
                await session.flush()
                token_id = row.id
        except IntegrityError:
            raise StaffError(f"a token named {name} exists already") from None
        found = await self.get(str(token_id))
        assert found is not None
        return found, token

    async def list(self) -> list[TokenInfo]:
        async with self._reads() as session:
            rows = (await session.execute(self._query().order_by(ApiToken.name))).all()
        return [self._info(row, slug) for row, slug in rows]

    async def get(self, name_or_id: str) -> TokenInfo | None:
        async with self._reads() as session:
            found = (await session.execute(self._query().where(self._which(name_or_id)))).first()
        return self._info(*found) if found else None

    async def revoke(self, name_or_id: str, now: datetime) -> TokenInfo:
        """Revoke a token by name or id (at once: the next call with it is refused)."""
        async with self._store.locks.writer(), self._sessions() as session, session.begin():
            row = await session.scalar(select(ApiToken).where(self._which(name_or_id)))
            if row is None:
                raise StaffError(f"no token {name_or_id!r} (see `intake tokens list`)")
            row.revoked_at = row.revoked_at or now
        found = await self.get(str(row.id))
        assert found is not None
        return found

    async def principal(self, token: str, now: datetime) -> Staff | None:
        """The staff member a live token acts as (None: unknown, revoked or expired), and
        its use recorded (``last_used_at``, at most once a minute)."""
        if not token.startswith(PREFIX) or len(token) > 128:
            return None
        async with self._reads() as session:
            found = (
                await session.execute(
                    self._query().where(
                        ApiToken.token_hash == token_hash(token),
                        ApiToken.revoked_at.is_(None),
                        or_(ApiToken.expires_at.is_(None), ApiToken.expires_at > now),
                    )
                )
            ).first()
            if found is None:
                return None
            row, slug = found
            rules = await session.execute(
                select(KindAccess.kind, KindAccess.rule).where(KindAccess.organisation_id == row.organisation_id)
            )
            kind_rules = tuple(sorted((k, r) for k, r in rules.all()))
        if row.last_used_at is None or now - row.last_used_at >= TOUCH_EVERY:
            async with self._store.locks.writer(), self._sessions() as session, session.begin():
                await session.execute(update(ApiToken).where(ApiToken.id == row.id).values(last_used_at=now))
        return token_principal(row.id, row.name, row.role, slug, row.organisation_id, kind_rules)

    @staticmethod
    def _query() -> Any:
        return select(ApiToken, Organisation.slug).join(Organisation, Organisation.id == ApiToken.organisation_id)

    @staticmethod
    def _which(name_or_id: str) -> Any:
        text = name_or_id.strip()
        if text.isdigit() and len(text) < 10:
            return or_(ApiToken.id == int(text), ApiToken.name == text)
        return ApiToken.name == text.lower()

    @staticmethod
    def _info(row: ApiToken, slug: str) -> TokenInfo:
        return TokenInfo(
            id=row.id, name=row.name, role=row.role, organisation=slug, created_at=row.created_at,
            created_by=row.created_by, expires_at=row.expires_at, last_used_at=row.last_used_at,
            revoked_at=row.revoked_at,
        )
