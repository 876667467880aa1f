"""The admins' pages: LM providers, members, API keys and the audit trail. Each needs an admin scope
(policy table): another role gets a 403 page, and the header shows it no links to them."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from dspy_ash.api._dashboard._web import (
    ADMIN_PAGES,
    PREFIX,
    Viewer,
    back_to,
    call,
    drop_none,
    render,
    require,
    signed_in,
)

router = APIRouter(prefix="/admin")
SignedIn = Annotated[Viewer, Depends(signed_in)]
Cursor = Annotated[str | None, Query(max_length=1000)]


def _gate(viewer: Viewer, page: str) -> None:
    require(viewer, ADMIN_PAGES[page][1], f"the {ADMIN_PAGES[page][0].lower()} page")


@router.get("/providers")
async def providers(request: Request, viewer: SignedIn, cursor: Cursor = None) -> Response:
    _gate(viewer, "providers")
    page = await call(request, viewer, "providers.list", drop_none(cursor=cursor))
    return render(request, "admin_providers.html", viewer, page=page)


@router.get("/members")
async def members(request: Request, viewer: SignedIn, cursor: Cursor = None) -> Response:
    _gate(viewer, "members")
    page = await call(request, viewer, "members.list", drop_none(cursor=cursor))
    return render(request, "admin_members.html", viewer, page=page)


@router.get("/keys")
async def keys(request: Request, viewer: SignedIn, cursor: Cursor = None) -> Response:
    _gate(viewer, "keys")
    page = await call(request, viewer, "api_keys.list", drop_none(cursor=cursor, sort="-created_at"))
    return render(request, "admin_keys.html", viewer, page=page)


@router.post("/keys/{key_id}/revoke")
async def revoke_key(request: Request, viewer: SignedIn, key_id: uuid.UUID) -> Response:
    _gate(viewer, "keys")
    await call(request, viewer, "api_keys.revoke", {"key_id": key_id})
    return back_to(f"{PREFIX}/admin/keys")


@router.get("/audit")
async def audit(
    request: Request,
    viewer: SignedIn,
    resource_type: Annotated[str | None, Query(max_length=64)] = None,
    actor: Annotated[str | None, Query(max_length=200)] = None,
    cursor: Cursor = None,
) -> Response:
    _gate(viewer, "audit")
    payload = drop_none(resource_type=resource_type, actor=actor, cursor=cursor)
    page = await call(request, viewer, "audit.list", payload)
    return render(request, "admin_audit.html", viewer, page=page, resource_type=resource_type, actor=actor)
