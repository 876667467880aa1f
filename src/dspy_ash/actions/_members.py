"""People: the tenant's members (user accounts with a role here), and logging in to and out of a tenant."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import Field, SecretStr
from sqlalchemy import select

from dspy_ash.actions._context import ActionContext, Actor, Services
from dspy_ash.actions._errors import FieldProblem, InvalidRequestError, UnauthenticatedError
from dspy_ash.actions._registry import Http, action
from dspy_ash.actions._schemas import Deleted, ListRequest, Page, Public, Request
from dspy_ash.actions._tenancy import Role
from dspy_ash.store import ConflictError, NotFoundError, repos
from dspy_ash.store.models import Membership, UserAccount
from dspy_ash.store.repos._paging import page_rows

LOGINS_PER_MINUTE = 10  # per email address: slows password guessing without locking the owner out for long


class MemberCreate(Request):
    email: str = Field(min_length=3, max_length=320, examples=["ada@example.com"])
    role: Role = "viewer"
    password: SecretStr | None = Field(
        default=None, min_length=12, max_length=1024, description="for a new account only; write-only"
    )
    display_name: str = Field(default="", max_length=200)


class MemberPublic(Public):
    user_id: uuid.UUID
    email: str
    display_name: str
    role: Role
    created_at: datetime


class MemberUpdate(Request):
    user_id: uuid.UUID
    role: Role


class MemberRef(Request):
    user_id: uuid.UUID


def _public(membership: Membership, user: UserAccount) -> MemberPublic:
    return MemberPublic.model_validate(
        {
            "user_id": user.id,
            "email": user.email,
            "display_name": user.display_name,
            "role": membership.role,
            "created_at": membership.created_at,
        }
    )


@action("members.create", resource="membership", kind="create", scope="members:write",
        http=Http("POST", "/members", status=201))  # fmt: skip
async def create_member(ctx: ActionContext, request: MemberCreate) -> MemberPublic:
    """Add a person: a new account (with a password), or an existing account by its email."""
    user = await repos.users.find_user_by_email(ctx.session, email=request.email)
    if user is None:
        if request.password is None:
            problem = FieldProblem("body.password", "a new account needs a password")
            raise InvalidRequestError("a new account needs a password", [problem])
        user = await repos.users.create_user(
            ctx.session,
            tenant_id=ctx.tenant_id,
            actor=ctx.subject,
            email=request.email,
            password=request.password.get_secret_value(),
            display_name=request.display_name,
        )
    elif request.password is not None:
        # the account may belong to other tenants: one tenant's admin must not set its password
        raise ConflictError(
            "an account with this email exists: add it without a password", resource="membership"
        )
    membership = await repos.memberships.add_member(
        ctx.session, tenant_id=ctx.tenant_id, actor=ctx.subject, user_id=user.id, role=request.role
    )
    return _public(membership, user)


@action(
    "members.list", resource="membership", kind="list", scope="members:read", http=Http("GET", "/members")
)
async def list_members(ctx: ActionContext, request: ListRequest) -> Page[MemberPublic]:
    """List the tenant's members."""
    rows, cursor = await page_rows(
        ctx.session,
        Membership,
        tenant_id=ctx.tenant_id,
        sort=request.sort,
        allowed_sorts=("created_at",),
        cursor=request.cursor,
        limit=min(request.limit, ctx.services.settings.max_page_size),
    )
    ids = [m.user_id for m in rows]
    users = {
        u.id: u
        for u in (await ctx.session.execute(select(UserAccount).where(UserAccount.id.in_(ids)))).scalars()
    }
    return Page[MemberPublic](items=[_public(m, users[m.user_id]) for m in rows], next_cursor=cursor)


@action("members.update", resource="membership", kind="update", scope="members:write",
        http=Http("PATCH", "/members/{user_id}"))  # fmt: skip
async def update_member(ctx: ActionContext, request: MemberUpdate) -> MemberPublic:
    """Change a member's role."""
    await _keep_an_admin(ctx, request.user_id, new_role=request.role)
    membership = await repos.memberships.set_role(
        ctx.session, tenant_id=ctx.tenant_id, actor=ctx.subject, user_id=request.user_id, role=request.role
    )
    return _public(membership, await repos.users.get_user(ctx.session, user_id=request.user_id))


@action("members.delete", resource="membership", kind="destroy", scope="members:write",
        http=Http("DELETE", "/members/{user_id}"))  # fmt: skip
async def delete_member(ctx: ActionContext, request: MemberRef) -> Deleted:
    """Remove a person from the tenant (the account stays; its sessions here stop working)."""
    await _keep_an_admin(ctx, request.user_id, new_role=None)
    await repos.memberships.remove_member(
        ctx.session, tenant_id=ctx.tenant_id, actor=ctx.subject, user_id=request.user_id
    )
    return Deleted(id=str(request.user_id))


async def _keep_an_admin(ctx: ActionContext, user_id: uuid.UUID, *, new_role: str | None) -> None:
    """Refuse to demote or remove the tenant's last admin member (ConflictError)."""
    membership = await repos.memberships.get_membership(ctx.session, tenant_id=ctx.tenant_id, user_id=user_id)
    if membership is None:
        raise NotFoundError("membership", user_id)
    if membership.role != "admin" or new_role == "admin":
        return
    admins = [
        m
        for m in await repos.memberships.list_members(ctx.session, tenant_id=ctx.tenant_id)
        if m.role == "admin"
    ]
    if len(admins) <= 1:
        raise ConflictError("the tenant's last admin cannot be demoted or removed", resource="membership")


@dataclass(frozen=True, slots=True)
class Login:
    """A new dashboard session: the cookie's token and the CSRF token the page sends back on changes."""

    actor: Actor
    token: str
    csrf_token: str
    expires_at: datetime
    tenants: list[str]


async def login(services: Services, *, email: str, password: str, tenant: str | None) -> Login:
    """Check the password and open a session in `tenant` (a name; optional when the account has one).
    Every failure is the same UnauthenticatedError, so the answer does not tell which part was wrong."""
    services.rate_limiter.check(f"login:{email.strip().lower()}", LOGINS_PER_MINUTE)
    async with services.db.transaction() as session:
        user = await repos.users.verify_password(session, email=email, password=password)
        if user is None:
            raise UnauthenticatedError("wrong email or password")
        tenants = await repos.memberships.list_tenants_of_user(session, user_id=user.id)
        chosen = [t for t in tenants if tenant is None or t.tenant_name == tenant]
        if len(chosen) != 1:
            names = ", ".join(sorted(t.tenant_name for t in tenants)) or "none"
            raise InvalidRequestError(
                f"choose a tenant: {names}", [FieldProblem("body.tenant", f"one of: {names}")]
            )
        row, token, csrf = await repos.user_sessions.create_session(
            session,
            tenant_id=chosen[0].tenant_id,
            actor=f"user:{user.id}",
            user_id=user.id,
            ttl=timedelta(hours=services.settings.session_ttl_hours),
        )
    actor = Actor(tenant_id=chosen[0].tenant_id, role=chosen[0].role, subject=f"user:{user.id}")
    return Login(actor, token, csrf, row.expires_at, [t.tenant_name for t in tenants])


async def logout(services: Services, *, token: str) -> None:
    """End the session of this cookie token (nothing happens for an unknown one)."""
    async with services.db.transaction() as session:
        principal = await repos.user_sessions.authenticate_session(session, token=token)
        if principal is not None:
            await repos.user_sessions.revoke_session(
                session, tenant_id=principal.tenant_id, actor=principal.actor, session_id=principal.session_id
            )
