"""User accounts, memberships and login sessions, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Literal, cast

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from dspy_ash.store import ConflictError, Database, InvalidValueError, NotFoundError, repos
from dspy_ash.store._types import utcnow
from dspy_ash.store.models import AuditEvent, Membership, UserAccount

# cheap parameters keep the suite fast; the defaults are argon2-cffi's (RFC 9106, low memory)
HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
PASSWORD = "correct horse battery"


async def _user(
    db: Database, tenant: uuid.UUID, *, role: str | None = "editor", email: str | None = None
) -> UserAccount:
    async with db.transaction() as s:
        user = await repos.users.create_user(
            s,
            tenant_id=tenant,
            actor="admin",
            email=email or f"  Someone.{uuid.uuid4().hex[:8]}@Example.COM ",
            password=PASSWORD,
            display_name="Someone",
            hasher=HASHER,
        )
        if role is not None:
            await repos.memberships.add_member(s, tenant_id=tenant, actor="admin", user_id=user.id, role=role)
    return user


async def _events(db: Database, tenant: uuid.UUID) -> list[AuditEvent]:
    async with db.transaction() as s:
        return await repos.audit.list_events(s, tenant_id=tenant, limit=1000)


# -- accounts ------------------------------------------------------------------------------------------


async def test_create_user_normalizes_the_email_and_stores_an_argon2id_hash(
    db: Database, tenant: uuid.UUID
) -> None:
    user = await _user(db, tenant, role=None)
    assert user.email == user.email.strip().lower() and user.email.endswith("@example.com")
    assert user.password_hash.startswith("$argon2id$") and PASSWORD not in user.password_hash
    async with db.transaction() as s:
        found = await repos.users.find_user_by_email(s, email=f" {user.email.upper()} ")
        assert found is not None and found.id == user.id
        assert (await repos.users.get_user(s, user_id=user.id)).id == user.id
        with pytest.raises(NotFoundError):
            await repos.users.get_user(s, user_id=uuid.uuid4())
        assert await repos.users.find_user_by_email(s, email="nobody@example.com") is None
    (event,) = [e for e in await _events(db, tenant) if e.resource_id == user.id]
    assert (event.action, event.resource_type, event.actor) == ("create", "user_account", "admin")
    assert (
        event.after is not None and "password_hash" not in event.after and event.after["email"] == user.email
    )


@pytest.mark.parametrize(
    ("email", "password", "field"),
    [
        ("not-an-email", PASSWORD, "email"),
        ("a@b", PASSWORD, "email"),
        ("a b@example.com", PASSWORD, "email"),
        ("ok@example.com", "short pass", "password"),  # 10 characters
    ],
)
async def test_create_user_refuses_a_bad_email_or_a_short_password(
    db: Database, tenant: uuid.UUID, email: str, password: str, field: str
) -> None:
    async with db.transaction() as s:
        with pytest.raises(InvalidValueError) as refused:
            await repos.users.create_user(
                s, tenant_id=tenant, actor="a", email=email, password=password, hasher=HASHER
            )
    assert refused.value.field == field and isinstance(refused.value, ValueError)


async def test_an_email_has_one_account_whatever_its_case(db: Database, tenant: uuid.UUID) -> None:
    user = await _user(db, tenant, role=None)
    with pytest.raises(ConflictError, match="exists"):
        async with db.transaction() as s:
            await repos.users.create_user(
                s, tenant_id=tenant, actor="a", email=user.email.upper(), password=PASSWORD, hasher=HASHER
            )


async def test_verify_password_right_wrong_unknown_and_disabled(db: Database, tenant: uuid.UUID) -> None:
    user = await _user(db, tenant)
    async with db.transaction() as s:
        found = await repos.users.verify_password(
            s, email=user.email.upper(), password=PASSWORD, hasher=HASHER
        )
        assert found is not None and found.id == user.id
        assert (
            await repos.users.verify_password(s, email=user.email, password=PASSWORD + "!", hasher=HASHER)
            is None
        )
        assert (
            await repos.users.verify_password(s, email="nobody@example.com", password=PASSWORD, hasher=HASHER)
            is None
        )
    async with db.transaction() as s:
        disabled = await repos.users.disable_user(s, tenant_id=tenant, actor="admin", user_id=user.id)
        again = await repos.users.disable_user(s, tenant_id=tenant, actor="admin", user_id=user.id)
    assert disabled.disabled_at is not None and again.disabled_at == disabled.disabled_at
    async with db.transaction() as s:
        assert (
            await repos.users.verify_password(s, email=user.email, password=PASSWORD, hasher=HASHER) is None
        )
    assert [e.action for e in await _events(db, tenant) if e.resource_id == user.id] == ["create", "disable"]


def test_an_unknown_email_still_costs_a_hash_verification(monkeypatch: pytest.MonkeyPatch) -> None:
    """Timing: the unknown-email path verifies (against a decoy) just as the known one does."""
    import asyncio

    calls: list[str] = []

    class Counting(PasswordHasher):
        def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
            calls.append("verify")
            return super().verify(hash, password)

    class NoUsers:
        async def execute(self, _stmt: object) -> object:
            class Result:
                def scalar_one_or_none(self) -> None:
                    return None

            return Result()

    hasher = Counting(time_cost=1, memory_cost=8, parallelism=1)
    no_users = cast(AsyncSession, NoUsers())
    found = asyncio.run(
        repos.users.verify_password(no_users, email="x@example.com", password=PASSWORD, hasher=hasher)
    )
    assert found is None and calls == ["verify"]


async def test_verify_rehashes_a_hash_made_under_older_parameters(db: Database, tenant: uuid.UUID) -> None:
    user = await _user(db, tenant)
    stronger = PasswordHasher(time_cost=2, memory_cost=16, parallelism=1)
    async with db.transaction() as s:
        assert await repos.users.verify_password(s, email=user.email, password=PASSWORD, hasher=stronger)
    async with db.transaction() as s:
        stored = await repos.users.get_user(s, user_id=user.id)
        assert stored.password_hash != user.password_hash and not stronger.check_needs_rehash(
            stored.password_hash
        )
        assert await repos.users.verify_password(s, email=user.email, password=PASSWORD, hasher=stronger)


async def test_set_password_replaces_it_and_is_audited_without_the_hash(
    db: Database, tenant: uuid.UUID
) -> None:
    user = await _user(db, tenant)
    async with db.transaction() as s:
        with pytest.raises(InvalidValueError, match="password"):
            await repos.users.set_password(
                s, tenant_id=tenant, actor="me", user_id=user.id, password="short", hasher=HASHER
            )
        await repos.users.set_password(
            s, tenant_id=tenant, actor="me", user_id=user.id, password="a new long password", hasher=HASHER
        )
    async with db.transaction() as s:
        assert (
            await repos.users.verify_password(s, email=user.email, password=PASSWORD, hasher=HASHER) is None
        )
        assert await repos.users.verify_password(
            s, email=user.email, password="a new long password", hasher=HASHER
        )
    (event,) = [e for e in await _events(db, tenant) if e.action == "set_password"]
    assert event.resource_id == user.id and "password_hash" not in (event.before or {}) | (event.after or {})


async def test_a_tenant_cannot_change_an_account_that_is_not_its_member(
    db: Database, tenant: uuid.UUID, other_tenant: uuid.UUID
) -> None:
    user = await _user(db, tenant)
    async with db.transaction() as s:
        with pytest.raises(NotFoundError):
            await repos.users.disable_user(s, tenant_id=other_tenant, actor="b", user_id=user.id)
        with pytest.raises(NotFoundError):
            await repos.users.set_password(
                s, tenant_id=other_tenant, actor="b", user_id=user.id, password="b" * 12, hasher=HASHER
            )


# -- memberships ---------------------------------------------------------------------------------------


async def test_memberships_add_change_list_and_remove(
    db: Database, tenant: uuid.UUID, other_tenant: uuid.UUID
) -> None:
    user = await _user(db, tenant, role="viewer")
    async with db.transaction() as s:  # one account, two tenants
        await repos.memberships.add_member(
            s, tenant_id=other_tenant, actor="b", user_id=user.id, role="admin"
        )
    with pytest.raises(ConflictError, match="member already"):
        async with db.transaction() as s:
            await repos.memberships.add_member(s, tenant_id=tenant, actor="a", user_id=user.id, role="editor")
    async with db.transaction() as s:
        with pytest.raises(InvalidValueError, match="role"):
            await repos.memberships.add_member(s, tenant_id=tenant, actor="a", user_id=user.id, role="root")
        with pytest.raises(NotFoundError):
            await repos.memberships.add_member(
                s, tenant_id=tenant, actor="a", user_id=uuid.uuid4(), role="viewer"
            )
        changed = await repos.memberships.set_role(
            s, tenant_id=tenant, actor="a", user_id=user.id, role="editor"
        )
        assert changed.role == "editor"
        assert [m.user_id for m in await repos.memberships.list_members(s, tenant_id=tenant)] == [user.id]
        tenants = await repos.memberships.list_tenants_of_user(s, user_id=user.id)
        assert {(t.tenant_id, t.role) for t in tenants} == {(tenant, "editor"), (other_tenant, "admin")}
        assert tenants == sorted(tenants, key=lambda t: t.tenant_name)
    async with db.transaction() as s:
        await repos.memberships.remove_member(s, tenant_id=tenant, actor="a", user_id=user.id)
        assert await repos.memberships.get_membership(s, tenant_id=tenant, user_id=user.id) is None
        assert await repos.memberships.get_membership(s, tenant_id=other_tenant, user_id=user.id) is not None
        with pytest.raises(NotFoundError):
            await repos.memberships.remove_member(s, tenant_id=tenant, actor="a", user_id=user.id)
    actions = [
        (e.resource_type, e.action) for e in await _events(db, tenant) if e.resource_type == "membership"
    ]
    assert actions == [("membership", "create"), ("membership", "update"), ("membership", "delete")]


async def test_the_database_refuses_a_role_outside_the_list(db: Database, tenant: uuid.UUID) -> None:
    from sqlalchemy.exc import IntegrityError

    user = await _user(db, tenant, role="viewer")
    with pytest.raises(IntegrityError):
        async with db.transaction() as s:
            await s.execute(update(Membership).where(Membership.user_id == user.id).values(role="root"))


# -- sessions ------------------------------------------------------------------------------------------


async def _login(
    db: Database, tenant: uuid.UUID, user: UserAccount, ttl: timedelta = timedelta(hours=1)
) -> tuple[uuid.UUID, str, str]:
    async with db.transaction() as s:
        row, token, csrf = await repos.user_sessions.create_session(
            s,
            tenant_id=tenant,
            actor=f"user:{user.id}",
            user_id=user.id,
            ttl=ttl,
        )
    return row.id, token, csrf


async def test_a_session_authenticates_with_the_members_role_and_stores_only_hashes(
    db: Database, tenant: uuid.UUID
) -> None:
    user = await _user(db, tenant, role="editor")
    session_id, token, csrf = await _login(db, tenant, user)
    assert token.startswith("das_") and len(token) >= 4 + 43 and csrf != token
    async with db.transaction() as s:
        principal = await repos.user_sessions.authenticate_session(s, token=token)
        raw = str((await s.execute(text("SELECT * FROM user_session"))).all())
        stored = await repos.users.get_user(s, user_id=user.id)
    assert principal is not None
    assert (principal.user_id, principal.tenant_id, principal.role, principal.session_id) == (
        user.id, tenant, "editor", session_id,
    )  # fmt: skip
    assert principal.actor == f"user:{user.id}" and stored.last_login_at is not None
    assert token not in raw and csrf not in raw
    assert repos.user_sessions.check_csrf(principal, token=csrf)
    assert not repos.user_sessions.check_csrf(principal, token=csrf[:-1] + ("A" if csrf[-1] != "A" else "B"))
    assert not repos.user_sessions.check_csrf(principal, token=token)
    async with db.transaction() as s:  # a role change applies to the open session at once
        await repos.memberships.set_role(s, tenant_id=tenant, actor="a", user_id=user.id, role="viewer")
        again = await repos.user_sessions.authenticate_session(s, token=token)
        assert again is not None and again.role == "viewer"
        assert await repos.user_sessions.authenticate_session(s, token=token + "x") is None


async def test_a_session_expires(db: Database, tenant: uuid.UUID) -> None:
    user = await _user(db, tenant)
    _, token, _ = await _login(db, tenant, user, ttl=timedelta(minutes=5))
    async with db.transaction() as s:
        now = utcnow()
        assert await repos.user_sessions.authenticate_session(s, token=token, now=now + timedelta(minutes=4))
        assert (
            await repos.user_sessions.authenticate_session(s, token=token, now=now + timedelta(minutes=6))
            is None
        )


async def test_logout_revokes_and_both_are_audited(db: Database, tenant: uuid.UUID) -> None:
    user = await _user(db, tenant)
    session_id, token, csrf = await _login(db, tenant, user)
    async with db.transaction() as s:
        await repos.user_sessions.revoke_session(
            s, tenant_id=tenant, actor=f"user:{user.id}", session_id=session_id
        )
        await repos.user_sessions.revoke_session(
            s, tenant_id=tenant, actor=f"user:{user.id}", session_id=session_id
        )
        assert await repos.user_sessions.authenticate_session(s, token=token) is None
    events = [e for e in await _events(db, tenant) if e.resource_type == "user_session"]
    assert [(e.action, e.resource_id) for e in events] == [("login", session_id), ("logout", session_id)]
    assert all(token not in str(e.after) and csrf not in str(e.after) for e in events)


async def test_a_session_dies_with_its_membership_or_a_disabled_user(db: Database, tenant: uuid.UUID) -> None:
    removed, disabled = await _user(db, tenant), await _user(db, tenant)
    _, removed_token, _ = await _login(db, tenant, removed)
    _, disabled_token, _ = await _login(db, tenant, disabled)
    async with db.transaction() as s:
        await repos.memberships.remove_member(s, tenant_id=tenant, actor="a", user_id=removed.id)
        await repos.users.disable_user(s, tenant_id=tenant, actor="a", user_id=disabled.id)
    async with db.transaction() as s:
        assert await repos.user_sessions.authenticate_session(s, token=removed_token) is None
        assert await repos.user_sessions.authenticate_session(s, token=disabled_token) is None
        for user in (removed, disabled):  # and neither can log in again
            with pytest.raises(NotFoundError, match="membership"):
                await repos.user_sessions.create_session(s, tenant_id=tenant, actor="x", user_id=user.id)


async def test_touch_session_writes_at_most_once_a_minute(db: Database, tenant: uuid.UUID) -> None:
    user = await _user(db, tenant)
    session_id, _, _ = await _login(db, tenant, user)  # logging in sets last_seen_at
    now = utcnow()
    async with db.transaction() as s:
        assert not await repos.user_sessions.touch_session(
            s, session_id=session_id, now=now + timedelta(seconds=30)
        )
        assert await repos.user_sessions.touch_session(
            s, session_id=session_id, now=now + timedelta(seconds=90)
        )
        assert not await repos.user_sessions.touch_session(
            s, session_id=session_id, now=now + timedelta(seconds=100)
        )


async def test_no_audit_snapshot_holds_a_hash_or_a_token(db: Database, tenant: uuid.UUID) -> None:
    user = await _user(db, tenant)
    session_id, token, csrf = await _login(db, tenant, user)
    async with db.transaction() as s:
        await repos.users.set_password(
            s, tenant_id=tenant, actor="a", user_id=user.id, password="z" * 12, hasher=HASHER
        )
        await repos.user_sessions.revoke_session(s, tenant_id=tenant, actor="a", session_id=session_id)
        stored = await repos.users.get_user(s, user_id=user.id)
        hashes = (
            await s.execute(select(text("token_hash, csrf_hash")).select_from(text("user_session")))
        ).all()
    secrets = {user.password_hash, stored.password_hash, token, csrf, *(h for row in hashes for h in row)}
    events = await _events(db, tenant)
    assert {e.action for e in events} >= {"create", "set_password", "login", "logout"}
    for event in events:
        blob = f"{event.before} {event.after}"
        assert not any(secret in blob for secret in secrets), event.action
        assert not {"password_hash", "token_hash", "csrf_hash"} & set(
            (event.before or {}) | (event.after or {})
        )
