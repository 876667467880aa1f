"""Authorization-matrix cases for programs, versions, API keys, the tenant and the audit trail."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from api_helpers import Call, Case, World

PASSWORD = "correct horse battery staple"
STATE = json.loads((Path(__file__).parents[2] / "fixtures" / "program_state.json").read_text())


async def _program(world: World) -> str:
    return (await world.post("/programs", {"name": "qa", "source": "myapp.qa:QA"}))["id"]


async def _version(world: World) -> tuple[str, str]:
    program_id = await _program(world)
    version = await world.post(f"/programs/{program_id}/versions", {"state": STATE})
    return program_id, version["id"]


async def programs_create(world: World) -> Call:
    return Call("POST", "/programs", json={"name": "new", "source": "myapp.qa:QA"})


async def programs_list(world: World) -> Call:
    await _program(world)
    return Call("GET", "/programs", params={"include": "versions"})


async def programs_get(world: World) -> Call:
    return Call("GET", f"/programs/{await _program(world)}")


async def programs_update(world: World) -> Call:
    return Call("PATCH", f"/programs/{await _program(world)}", json={"description": "changed"})


async def programs_delete(world: World) -> Call:
    return Call("DELETE", f"/programs/{await _program(world)}")


async def versions_list(world: World) -> Call:
    program_id, _ = await _version(world)
    return Call("GET", f"/programs/{program_id}/versions")


async def versions_get(world: World) -> Call:
    program_id, version_id = await _version(world)
    return Call("GET", f"/programs/{program_id}/versions/{version_id}")


async def versions_import(world: World) -> Call:
    return Call("POST", f"/programs/{await _program(world)}/versions", json={"state": STATE})


async def versions_export(world: World) -> Call:
    program_id, version_id = await _version(world)
    return Call("GET", f"/programs/{program_id}/versions/{version_id}/export")


async def versions_diff(world: World) -> Call:
    program_id, version_id = await _version(world)
    return Call("GET", f"/programs/{program_id}/versions/{version_id}/diff", params={"against": version_id})


async def tenant_get(world: World) -> Call:
    return Call("GET", "/tenant")


async def api_keys_create(world: World) -> Call:
    return Call("POST", "/api-keys", json={"name": "ci", "role": "viewer"})


async def api_keys_list(world: World) -> Call:
    return Call("GET", "/api-keys")


async def api_keys_revoke(world: World) -> Call:
    key = await world.post("/api-keys", {"name": "spare", "role": "viewer"})
    return Call("POST", f"/api-keys/{key['id']}/revoke")


async def audit_list(world: World) -> Call:
    return Call("GET", "/audit-events")


async def versions_promote(world: World) -> Call:
    program_id, version_id = await _version(world)
    return Call("POST", f"/programs/{program_id}/versions/{version_id}/promote")


async def _member(world: World) -> str:
    """A second admin plus the member the call acts on, so the last-admin rule never decides the outcome."""
    await world.post(
        "/members", {"email": f"{uuid.uuid4().hex[:8]}@example.com", "role": "admin", "password": PASSWORD}
    )
    member = await world.post(
        "/members", {"email": f"{uuid.uuid4().hex[:8]}@example.com", "password": PASSWORD}
    )
    return member["user_id"]


async def members_create(world: World) -> Call:
    return Call(
        "POST", "/members", json={"email": f"{uuid.uuid4().hex[:8]}@example.com", "password": PASSWORD}
    )


async def members_list(world: World) -> Call:
    await _member(world)
    return Call("GET", "/members")


async def members_update(world: World) -> Call:
    return Call("PATCH", f"/members/{await _member(world)}", json={"role": "editor"})


async def members_delete(world: World) -> Call:
    return Call("DELETE", f"/members/{await _member(world)}")


CASES: dict[str, Case] = {
    "versions.promote": versions_promote,
    "members.create": members_create,
    "members.list": members_list,
    "members.update": members_update,
    "members.delete": members_delete,
    "programs.create": programs_create,
    "programs.list": programs_list,
    "programs.get": programs_get,
    "programs.update": programs_update,
    "programs.delete": programs_delete,
    "versions.list": versions_list,
    "versions.get": versions_get,
    "versions.import": versions_import,
    "versions.export": versions_export,
    "versions.diff": versions_diff,
    "tenant.get": tenant_get,
    "api_keys.create": api_keys_create,
    "api_keys.list": api_keys_list,
    "api_keys.revoke": api_keys_revoke,
    "audit.list": audit_list,
}
