"""Programs and their versions through REST: create, page, filter, include, import/export, diff, delete."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
from api_helpers import TenantKeys

STATE = json.loads((Path(__file__).parents[2] / "fixtures" / "program_state.json").read_text())


async def _create(client: httpx.AsyncClient, acme: TenantKeys, name: str, **extra: Any) -> dict[str, Any]:
    body = {"name": name, "source": "myapp.qa:QA", **extra}
    response = await client.post("/programs", json=body, headers=acme.auth("editor"))
    assert response.status_code == 201, response.text
    return response.json()


async def test_create_get_update_delete_with_audit(client: httpx.AsyncClient, acme: TenantKeys) -> None:
    program = await _create(client, acme, "qa", description="first")
    assert program["kind"] == "code" and program["versions"] is None
    got = await client.get(f"/programs/{program['id']}", headers=acme.auth("viewer"))
    assert got.json()["description"] == "first"
    patched = await client.patch(
        f"/programs/{program['id']}", json={"description": "second"}, headers=acme.auth("editor")
    )
    assert patched.status_code == 200 and patched.json()["description"] == "second"
    deleted = await client.delete(f"/programs/{program['id']}", headers=acme.auth("editor"))
    assert deleted.json() == {"id": program["id"], "deleted": True}
    gone = await client.get(f"/programs/{program['id']}", headers=acme.auth("viewer"))
    assert gone.status_code == 404
    trail = await client.get(
        "/audit-events", params={"resource_id": program["id"], "sort": "created_at"}, headers=acme.auth()
    )
    events = trail.json()["items"]
    assert [e["action"] for e in events] == ["create", "update", "delete"]
    assert events[1]["before"]["description"] == "first" and events[1]["after"]["description"] == "second"
    assert all(e["actor"].startswith("api_key:") for e in events)


async def test_pages_filters_and_sorts_without_repeats(client: httpx.AsyncClient, acme: TenantKeys) -> None:
    names = [f"p{i:02d}" for i in range(7)]
    for name in reversed(names):
        await _create(client, acme, name)
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 3, "sort": "name"}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get("/programs", params=params, headers=acme.auth("viewer"))).json()
        seen += [p["name"] for p in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == names
    desc = (await client.get("/programs", params={"sort": "-name", "limit": 2}, headers=acme.auth())).json()
    assert [p["name"] for p in desc["items"]] == ["p06", "p05"]
    only = (await client.get("/programs", params={"name": "p03"}, headers=acme.auth())).json()
    assert [p["name"] for p in only["items"]] == ["p03"]
    wrong = await client.get(
        "/programs", params={"cursor": desc["next_cursor"], "sort": "name"}, headers=acme.auth()
    )
    assert wrong.status_code == 400
    assert wrong.json()["type"] == "urn:dspy-ash:problem:invalid-cursor"


async def test_versions_import_export_diff_and_include(client: httpx.AsyncClient, acme: TenantKeys) -> None:
    program = await _create(client, acme, "qa")
    base = f"/programs/{program['id']}/versions"
    first = await client.post(base, json={"state": STATE}, headers=acme.auth("editor"))
    assert first.status_code == 201, first.text
    changed = json.loads(json.dumps(STATE))
    predictor = next(k for k in changed if k != "metadata")
    changed[predictor]["signature"]["instructions"] = "Answer tersely."
    second = (await client.post(base, json={"state": changed, "parent_id": first.json()["id"]},
                                headers=acme.auth("editor"))).json()  # fmt: skip
    assert second["number"] == 2 and second["parent_id"] == first.json()["id"]
    exported = await client.get(f"{base}/{second['id']}/export", headers=acme.auth("viewer"))
    assert exported.json() == changed  # DSPy's saved JSON, verbatim
    diff = (await client.get(f"{base}/{second['id']}/diff", params={"against": first.json()["id"]},
                             headers=acme.auth("viewer"))).json()  # fmt: skip
    assert diff["predictors"][predictor]["instructions"]["new"] == "Answer tersely."
    listed = (await client.get("/programs", params={"include": "versions"}, headers=acme.auth())).json()
    assert [v["number"] for v in listed["items"][0]["versions"]] == [1, 2]


async def test_another_tenants_ids_answer_404(
    client: httpx.AsyncClient, acme: TenantKeys, globex: TenantKeys
) -> None:
    program = await _create(client, acme, "secret")
    for method, path in [("GET", ""), ("PATCH", ""), ("DELETE", ""), ("GET", "/versions")]:
        response = await client.request(
            method, f"/programs/{program['id']}{path}", headers=globex.auth(),
            json={"description": "x"} if method == "PATCH" else None,
        )  # fmt: skip
        assert response.status_code == 404, (method, path, response.text)
    assert (await client.get("/programs", headers=globex.auth())).json()["items"] == []
    still = await client.get(f"/programs/{program['id']}", headers=acme.auth())
    assert still.json()["description"] == ""


async def test_problems_for_bad_input(client: httpx.AsyncClient, acme: TenantKeys) -> None:
    editor = acme.auth("editor")
    unknown = await client.post(
        "/programs", json={"name": "x", "source": "a.b:C", "extra": 1}, headers=editor
    )
    assert unknown.status_code == 422
    assert unknown.headers["content-type"] == "application/problem+json"
    assert any(e["field"].endswith("extra") for e in unknown.json()["errors"])
    both = await client.post("/programs", json={"name": "x"}, headers=editor)
    assert both.status_code == 422
    not_an_id = await client.get("/programs/not-a-uuid", headers=editor)  # no such resource, not a bad field
    assert not_an_id.status_code == 404 and not_an_id.json()["type"] == "urn:dspy-ash:problem:not-found"
    literal = await client.get("/signatures/parse", headers=editor)  # POST only, not a signature's id
    assert literal.status_code == 405 and literal.headers["allow"] == "POST"
    malformed = await client.post(
        "/programs", content=b"{not json", headers={**editor, "content-type": "application/json"}
    )
    assert malformed.status_code == 422
    huge = await client.post(
        "/programs", content=b"x" * 100_000, headers={**editor, "content-type": "application/json"}
    )
    assert huge.status_code == 413 and huge.json()["type"] == "urn:dspy-ash:problem:too-large"
    page = await client.get("/programs", params={"limit": 10_000}, headers=editor)
    assert page.status_code == 422
    taken = await client.post("/programs", json={"name": "dup", "source": "a.b:C"}, headers=editor)
    again = await client.post("/programs", json={"name": "dup", "source": "a.b:C"}, headers=editor)
    assert taken.status_code == 201 and again.status_code == 409
    listed = (await client.get("/programs", headers=editor)).json()["items"]
    assert [p["name"] for p in listed] == ["dup"]  # nothing else was created
    assert again.json()["request_id"] == again.headers["x-request-id"]
