"""Staff accounts, their organisations, signed-in sessions and the audit log.

Passwords are argon2id hashes (argon2-cffi). A session is a random token in the browser's
cookie; the database keeps only its keyed hash, so a copy of the database opens no
session. Disabling a user revokes every session of theirs at once.

The optional second factor is TOTP (RFC 6238, pyotp): the secret is encrypted with the
store's cipher, an enrolment is on only once confirmed with a code, and an accepted code's
time step is remembered so that no code (nor an earlier one) is accepted twice. Failed
sign-ins are kept in the database under keyed hashes, so every worker throttles alike.
"""

from __future__ import annotations

import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker

from .database import READ_ONLY
from .models import (
    AuditEntry,
    KindAccess,
    LoginChallenge,
    LoginFailure,
    Organisation,
    StaffSession,
    StaffUser,
)

ROLES = ("admin", "caseworker", "partner", "auditor")
RULES = ("always", "shared", "vulnerable", "on_duty")
SLUG = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,62})")
SESSION_LIFETIME = timedelta(hours=10)
CHALLENGE_LIFETIME = timedelta(minutes=5)
"""How long a browser has to type its TOTP code after the password."""
TOTP_ISSUER = "Intake back office"
MIN_PASSWORD = 12
_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("not a password anyone has")


class StaffError(ValueError):
    """A refused change (unknown organisation, taken e-mail address…), said plainly.

    ``code`` names the reason (``exists``, ``no_org``, ``bad_email``…) so that a screen
    can say it in the staff member's language."""

    def __init__(self, message: str, code: str = "invalid") -> None:
        super().__init__(message)
        self.code = code


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
    last_sign_in_at: datetime | None = field(default=None, compare=False)
    totp: str = "off"
    """``off``, ``pending`` (enrolment not confirmed yet) or ``on``."""


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
            raise StaffError(f"not an organisation slug: {slug!r} (lower-case letters, digits and -)", "bad_slug")
        async with self._store.locks.writer(), self._sessions() as session, session.begin():
            if await session.scalar(select(Organisation.id).where(Organisation.slug == slug)) is not None:
                raise StaffError(f"organisation {slug} exists already", "org_exists")
            session.add(Organisation(slug=slug, name=name.strip() or slug))

    async def set_kind_access(self, kind: str, slug: str, rule: str | None) -> None:
        """Let ``slug`` see ``kind`` under ``rule``; ``None`` takes it away."""
        if rule is not None and rule not in RULES:
            raise StaffError(f"unknown rule {rule!r}; one of {', '.join(RULES)}", "bad_rule")
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
            raise StaffError(f"no organisation {slug!r} (see `intake orgs list`)", "no_org")
        return int(org_id)

    # --- users --------------------------------------------------------------------

    async def add_user(self, email: str, password: str, role: str, organisation: str, now: datetime) -> Staff:
        email = normalise_email(email)
        if role not in ROLES:
            raise StaffError(f"unknown role {role!r}; one of {', '.join(ROLES)}", "bad_role")
        if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
            raise StaffError(f"not an e-mail address: {email!r}", "bad_email")
        if len(password) < MIN_PASSWORD:
            raise StaffError(f"a password needs at least {MIN_PASSWORD} characters", "short_password")
        try:
            async with self._store.locks.writer(), self._sessions() as session, session.begin():
                org_id = await self._org_id(session, organisation)
                user = StaffUser(
                    email=email, password_hash=_hasher.hash(password), role=role,
                    organisation_id=org_id, on_duty=False, created_at=now,
                )
                session.add(user)
        except IntegrityError:
            raise StaffError(f"a user {email} exists already", "exists") from None
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
                raise StaffError(f"no user {email}", "no_user")
            user.disabled_at = user.disabled_at or now
            user.on_duty = False
            await session.execute(
                update(StaffSession)
                .where(StaffSession.user_id == user.id, StaffSession.revoked_at.is_(None))
                .values(revoked_at=now)
            )

    async def change_password(
        self, user: Staff, current: str, new: str, now: datetime, *, keep_session: str | None = None
    ) -> None:
        """The user's own change: ``current`` must be right and ``new`` long enough. Every
        other session of theirs ends (a password someone else knew opens nothing any more);
        ``keep_session``: the token of the session the change was made from."""
        async with self._reads() as session:
            stored = await session.scalar(select(StaffUser.password_hash).where(StaffUser.id == user.id))
        try:
            _hasher.verify(stored or _DUMMY_HASH, current)
        except (VerificationError, InvalidHashError):
            raise StaffError("the current password is not right", "wrong_password") from None
        await self._set_password(StaffUser.id == user.id, new, now, keep_session=keep_session)

    async def set_password(self, email: str, new: str, now: datetime) -> None:
        """An administrator's reset (``intake users set-password``) for a forgotten
        password: every session of the account ends."""
        if not await self._set_password(StaffUser.email == normalise_email(email), new, now):
            raise StaffError(f"no user {email}", "no_user")

    async def _set_password(self, which: Any, new: str, now: datetime, *, keep_session: str | None = None) -> bool:
        if len(new) < MIN_PASSWORD:
            raise StaffError(f"a password needs at least {MIN_PASSWORD} characters", "short_password")
        hashed = _hasher.hash(new)  # before the write lock: argon2 takes its time on purpose
        async with self._store.locks.writer(), self._sessions() as session, session.begin():
            user_id = await session.scalar(select(StaffUser.id).where(which))
            if user_id is None:
                return False
            await session.execute(update(StaffUser).where(StaffUser.id == user_id).values(password_hash=hashed))
            others = update(StaffSession).where(StaffSession.user_id == user_id, StaffSession.revoked_at.is_(None))
            if keep_session is not None:
                others = others.where(StaffSession.token_hash != self._token_hash(keep_session))
            await session.execute(others.values(revoked_at=now))
        return True

    async def set_profile(self, user_id: int, *, on_duty: bool, language: str | None) -> None:
        async with self._store.locks.writer(), self._sessions() as session, session.begin():
            await session.execute(
                update(StaffUser).where(StaffUser.id == user_id).values(on_duty=on_duty, language=language or None)
            )

    async def enable_user(self, email: str) -> None:
        """Let a disabled account sign in again (its old sessions stay ended)."""
        async with self._store.locks.writer(), self._sessions() as session, session.begin():
            found = await session.execute(
                update(StaffUser).where(StaffUser.email == normalise_email(email)).values(disabled_at=None)
            )
            if found.rowcount == 0:
                raise StaffError(f"no user {email}", "no_user")

    async def change_user(self, email: str, role: str, organisation: str) -> Staff:
        """Give a user another role or organisation; it applies to their next request."""
        if role not in ROLES:
            raise StaffError(f"unknown role {role!r}; one of {', '.join(ROLES)}", "bad_role")
        async with self._store.locks.writer(), self._sessions() as session, session.begin():
            org_id = await self._org_id(session, organisation)
            found = await session.execute(
                update(StaffUser).where(StaffUser.email == normalise_email(email))
                .values(role=role, organisation_id=org_id)
            )
            if found.rowcount == 0:
                raise StaffError(f"no user {email}", "no_user")
        changed = await self.user(email)
        assert changed is not None
        return changed

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
        totp = "on" if user.totp_enabled_at is not None else "pending" if user.totp_secret_enc else "off"
        return Staff(
            id=user.id, email=user.email, role=user.role, organisation=slug,
            organisation_id=user.organisation_id, on_duty=bool(user.on_duty), language=user.language,
            disabled=user.disabled_at is not None, kind_rules=kind_rules,
            last_sign_in_at=user.last_sign_in_at, totp=totp,
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
            await session.execute(update(StaffUser).where(StaffUser.id == user.id).values(last_sign_in_at=now))
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

    # --- the second factor (TOTP) --------------------------------------------------

    async def start_totp(self, user_id: int) -> str:
        """A new secret, kept (encrypted) as an enrolment to confirm; the factor stays off
        (or is replaced only once the new one is confirmed, see ``confirm_totp``)."""
        secret = pyotp.random_base32()
        async with self._store.locks.writer(), self._sessions() as session, session.begin():
            await session.execute(
                update(StaffUser).where(StaffUser.id == user_id, StaffUser.totp_enabled_at.is_(None))
                .values(totp_secret_enc=self._store.cipher.encrypt(secret.encode()), totp_last_step=None)
            )
        return secret

    async def totp_uri(self, user: Staff) -> str | None:
        """The otpauth:// URI of a pending enrolment (None when nothing is pending)."""
        secret = await self._totp_secret(user.id, pending=True)
        if secret is None:
            return None
        return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=TOTP_ISSUER)

    async def confirm_totp(self, user_id: int, code: str, now: datetime) -> bool:
        """Turn the pending enrolment on if ``code`` is right for it."""
        return await self._accept_code(user_id, code, now, pending=True)

    async def check_totp(self, user_id: int, code: str, now: datetime) -> bool:
        """Whether ``code`` is the user's current one, not used before (an accepted code is
        spent for its whole window, in every worker)."""
        return await self._accept_code(user_id, code, now, pending=False)

    async def reset_totp(self, email: str) -> None:
        """Take the second factor away (a lost phone; or turned off by its owner)."""
        async with self._store.locks.writer(), self._sessions() as session, session.begin():
            found = await session.execute(
                update(StaffUser).where(StaffUser.email == normalise_email(email))
                .values(totp_secret_enc=None, totp_enabled_at=None, totp_last_step=None)
            )
            if found.rowcount == 0:
                raise StaffError(f"no user {email}", "no_user")
            await session.execute(
                delete(LoginChallenge).where(
                    LoginChallenge.user_id.in_(select(StaffUser.id).where(StaffUser.email == normalise_email(email)))
                )
            )

    async def _totp_secret(self, user_id: int, pending: bool) -> str | None:
        async with self._reads() as session:
            found = (
                await session.execute(
                    select(StaffUser.totp_secret_enc, StaffUser.totp_enabled_at).where(StaffUser.id == user_id)
                )
            ).first()
        if found is None or found.totp_secret_enc is None or (found.totp_enabled_at is None) != pending:
            return None
        return self._store.cipher.decrypt(found.totp_secret_enc).decode()

    async def _accept_code(self, user_id: int, code: str, now: datetime, pending: bool) -> bool:
        code = "".join(code.split())
        secret = await self._totp_secret(user_id, pending)
        if secret is None or not re.fullmatch(r"\d{6}", code):
            return False
        totp = pyotp.TOTP(secret)
        current = totp.timecode(now)
        step = next(
            (s for s in (current - 1, current, current + 1) if hmac.compare_digest(totp.generate_otp(s), code)),
            None,
        )
        if step is None:
            return False
        values: dict[str, Any] = {"totp_last_step": step}
        if pending:
            values["totp_enabled_at"] = now
        async with self._store.locks.writer(), self._sessions() as session, session.begin():
            # One UPDATE decides, so two workers given the same code cannot both accept it.
            done = await session.execute(
                update(StaffUser)
                .where(
                    StaffUser.id == user_id,
                    StaffUser.totp_enabled_at.is_(None) if pending else StaffUser.totp_enabled_at.is_not(None),
                    or_(StaffUser.totp_last_step.is_(None), StaffUser.totp_last_step < step),
                )
                .values(**values)
            )
        return bool(done.rowcount)

    # --- the step between the password and the code ------------------------------

    def _pre_hash(self, pre_session: str) -> str:
        return str(self._store.cipher.lookup_hash("staff-login-challenge", pre_session))

    async def open_challenge(self, user: Staff, pre_session: str, now: datetime) -> None:
        """The password was right; the browser of ``pre_session`` now owes the code."""
        key = self._pre_hash(pre_session)
        async with self._store.locks.writer(), self._sessions() as session, session.begin():
            await session.execute(
                delete(LoginChallenge).where(
                    or_(LoginChallenge.pre_session_hash == key, LoginChallenge.expires_at <= now)
                )
            )
            session.add(LoginChallenge(pre_session_hash=key, user_id=user.id, expires_at=now + CHALLENGE_LIFETIME))

    async def challenge_user(self, pre_session: str, now: datetime) -> Staff | None:
        """The enabled user whose code this browser owes, if the step has not expired."""
        async with self._reads() as session:
            user_id = await session.scalar(
                select(LoginChallenge.user_id).where(
                    LoginChallenge.pre_session_hash == self._pre_hash(pre_session), LoginChallenge.expires_at > now
                )
            )
        user = await self.user_by_id(int(user_id)) if user_id is not None else None
        return user if user is not None and not user.disabled else None

    async def close_challenge(self, pre_session: str) -> None:
        async with self._store.locks.writer(), self._sessions() as session, session.begin():
            await session.execute(
                delete(LoginChallenge).where(LoginChallenge.pre_session_hash == self._pre_hash(pre_session))
            )

    # --- failed sign-ins (read by the back office's throttle) ---------------------

    async def login_failures(self, keys: Iterable[str], since: datetime) -> dict[str, list[datetime]]:
        """The failures of each key (already hashed) since ``since``, oldest first."""
        keys = list(keys)
        found: dict[str, list[datetime]] = {key: [] for key in keys}
        async with self._reads() as session:
            rows = await session.execute(
                select(LoginFailure.key_hash, LoginFailure.at)
                .where(LoginFailure.key_hash.in_(keys), LoginFailure.at > since)
                .order_by(LoginFailure.at)
            )
            for key, at in rows.all():
                found[key].append(at)
        return found

    async def record_login_failure(self, keys: Iterable[str], now: datetime, forget_before: datetime) -> None:
        """Count one failure under each key; failures older than ``forget_before`` go."""
        async with self._store.locks.writer(), self._sessions() as session, session.begin():
            await session.execute(delete(LoginFailure).where(LoginFailure.at < forget_before))
            session.add_all(LoginFailure(key_hash=key, at=now) for key in keys)

    async def clear_login_failures(self, key: str) -> None:
        async with self._store.locks.writer(), self._sessions() as session, session.begin():
            await session.execute(delete(LoginFailure).where(LoginFailure.key_hash == key))

    # --- the audit log ------------------------------------------------------------

    async def audit(
        self, actor: Staff | str | None, action: str, now: datetime, case_reference: str | None = None,
        detail: str | None = None,
    ) -> None:
        """Append a line; ``actor`` is a staff member, or a name such as ``cli``."""
        staff = actor if isinstance(actor, Staff) else None
        name = staff.email if staff else (actor if isinstance(actor, str) else "-")
        async with self._store.locks.writer(), self._sessions() as session, session.begin():
            session.add(AuditEntry(
                at=now, actor_id=staff.id if staff else None, actor=name,
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

