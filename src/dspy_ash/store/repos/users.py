"""User accounts: people who log in with an email and a password (argon2id, via argon2-cffi).

Accounts are not tenant-owned (one person may be a member of several tenants), so reads here look
across tenants; what a user may do in a tenant is their `membership` there. A change is audited in
the tenant where it is made: writes take that `tenant_id`, and changing or disabling an account is
refused (NotFoundError) in a tenant it is not a member of. Snapshots never hold the password hash.

Every function that hashes takes `hasher=` (an `argon2.PasswordHasher`), default argon2-cffi's own
(RFC 9106's low-memory profile); a service passes the one its configuration says.
"""

from __future__ import annotations

import re
import uuid

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from dspy_ash.store._errors import ConflictError, InvalidValueError, NotFoundError
from dspy_ash.store._types import utcnow
from dspy_ash.store.models import Membership, UserAccount
from dspy_ash.store.repos import audit
from dspy_ash.store.repos._base import snapshot

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024  # hashing is slow on purpose; bound what one request can make it chew
DEFAULT_HASHER = PasswordHasher()
# one "@", something before it, a dot in the domain, no spaces: the shape, not deliverability
_EMAIL = re.compile(r"^[^@\s]+@[^@\s.]+(\.[^@\s.]+)+$")
# per hasher's parameters: a hash of nothing anyone knows, verified against when the email is unknown
_DECOYS: dict[tuple[object, ...], str] = {}


def normalize_email(email: str) -> str:
    return email.strip().lower()


def _check_password(password: str) -> None:
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise InvalidValueError(
            "password", f"must be {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters long"
        )


async def create_user(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    actor: str,
    email: str,
    password: str,
    display_name: str = "",
    hasher: PasswordHasher | None = None,
) -> UserAccount:
    """A new account (audited in `tenant_id`; not yet a member of it: `memberships.add_member`).
    InvalidValueError for an email that is not one or a password under 12 characters; ConflictError
    when the email has an account."""
    address = normalize_email(email)
    if len(address) > 320 or not _EMAIL.match(address):
        raise InvalidValueError("email", f"{email!r} is not an email address")
    _check_password(password)
    user = UserAccount(
        email=address, password_hash=(hasher or DEFAULT_HASHER).hash(password), display_name=display_name
    )
    session.add(user)
    try:
        await audit.record(session, tenant_id=tenant_id, actor=actor, action="create", row=user)
    except IntegrityError as exc:
        raise ConflictError(f"a user with email {address!r} exists", resource="user_account") from exc
    return user


async def verify_password(
    session: AsyncSession, *, email: str, password: str, hasher: PasswordHasher | None = None
) -> UserAccount | None:
    """The user whose email and password these are, else None: also None for a disabled user.

    Costs one hash verification whatever the outcome (an unknown email is checked against a decoy), so
    the time taken does not tell whether an account exists. A hash made under other parameters than
    `hasher`'s is replaced with a new one (not audited: snapshots hold no hash, and nobody changed anything).
    """
    ph = hasher or DEFAULT_HASHER
    user = await find_user_by_email(session, email=email)
    if user is None:
        _verify(ph, _decoy(ph), password)
        return None
    if not _verify(ph, user.password_hash, password) or user.disabled_at is not None:
        return None
    if ph.check_needs_rehash(user.password_hash):
        user.password_hash = ph.hash(password)
        await session.flush()
    return user


def _verify(ph: PasswordHasher, password_hash: str, password: str) -> bool:
    try:
        return ph.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _decoy(ph: PasswordHasher) -> str:
    params = (ph.time_cost, ph.memory_cost, ph.parallelism, ph.hash_len, ph.salt_len, ph.type)
    if params not in _DECOYS:
        _DECOYS[params] = ph.hash(uuid.uuid4().hex)
    return _DECOYS[params]


async def set_password(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    actor: str,
    user_id: uuid.UUID,
    password: str,
    hasher: PasswordHasher | None = None,
) -> UserAccount:
    """A new password for a member of `tenant_id` (audited there as "set_password", without the hash).
    Sessions already open stay open: revoke them if the change is a reset after a compromise."""
    _check_password(password)
    user = await _member_user(session, tenant_id, user_id)
    before = snapshot(user)
    user.password_hash = (hasher or DEFAULT_HASHER).hash(password)
    await audit.record(
        session, tenant_id=tenant_id, actor=actor, action="set_password", row=user, before=before
    )
    return user


async def disable_user(
    session: AsyncSession, *, tenant_id: uuid.UUID, actor: str, user_id: uuid.UUID
) -> UserAccount:
    """Disable a member of `tenant_id`: the account, so in every tenant it belongs to, can no longer log
    in and its open sessions stop authenticating. Audited in `tenant_id` as "disable"; a second call
    changes nothing and writes nothing."""
    user = await _member_user(session, tenant_id, user_id)
    if user.disabled_at is None:
        before = snapshot(user)
        user.disabled_at = utcnow()
        await audit.record(
            session, tenant_id=tenant_id, actor=actor, action="disable", row=user, before=before
        )
    return user


async def get_user(session: AsyncSession, *, user_id: uuid.UUID) -> UserAccount:
    """Any tenant's user (accounts are global): check the membership before showing it to a tenant."""
    user = await session.get(UserAccount, user_id)
    if user is None:
        raise NotFoundError(UserAccount.__tablename__, user_id)
    return user


async def find_user_by_email(session: AsyncSession, *, email: str) -> UserAccount | None:
    """The account with this email (compared stripped and lower-cased), across tenants, or None."""
    stmt = select(UserAccount).where(UserAccount.email == normalize_email(email))
    return (await session.execute(stmt)).scalar_one_or_none()


async def _member_user(session: AsyncSession, tenant_id: uuid.UUID, user_id: uuid.UUID) -> UserAccount:
    """The user, locked for the change, if a member of the tenant; else "not found" as for no such user."""
    stmt = (
        select(UserAccount)
        .join(Membership, Membership.user_id == UserAccount.id)
        .where(UserAccount.id == user_id, Membership.tenant_id == tenant_id)
        .with_for_update(of=UserAccount)
    )
    user = (await session.execute(stmt)).scalar_one_or_none()
    if user is None:
        raise NotFoundError(UserAccount.__tablename__, user_id)
    return user
