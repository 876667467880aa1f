"""Signatures, datasets and examples, metric definitions, optimizer configs, runs, traces, the LM request
log and the cache through REST."""

from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from api_helpers import TenantKeys
from cryptography.fernet import Fernet
from resources_helpers import T0, seed_cache, seed_trace
from sqlalchemy import func, select

from dspy_ash.actions import Services
from dspy_ash.store import repos
from dspy_ash.store.models import AuditEvent, Dataset, MetricDefinition, OptimizerConfig, SignatureRow

ROWS = [{"question": f"{i}+{i}?", "answer": str(2 * i)} for i in range(10)]
JSONL = "".join(json.dumps(r) + "\n" for r in ROWS)


async def _count(services: Services, acme: TenantKeys, model: Any) -> int:
    async with services.db.transaction() as s:
        stmt = select(func.count()).select_from(model).where(model.tenant_id == acme.tenant_id)
        return int((await s.execute(stmt)).scalar_one())


# -- signatures ------------------------------------------------------------------------------------


async def test_parse_reads_fields_and_types(client: httpx.AsyncClient, acme: TenantKeys) -> None:
    text = "question, context: list[str], mode: Literal['a', 'b'] -> answer: int, note: Optional[str]"
    response = await client.post("/signatures/parse", json={"signature": text}, headers=acme.auth("viewer"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert [(f["name"], f["type"]) for f in body["inputs"]] == [
        ("question", "str"),
        ("context", "list[str]"),
        ("mode", "Literal['a', 'b']"),
    ]
    assert [(f["name"], f["type"], f["prefix"]) for f in body["outputs"]] == [
        ("answer", "int", "Answer:"),
        ("note", "Optional[str]", "Note:"),
    ]
    assert body["instructions"].startswith("Given the fields `question`, `context`, `mode`")


@pytest.mark.parametrize(
    "text",
    [
        "a: __import__('os').system('x') -> b",
        "a: os.system -> b",
        "a: list['__import__(\"os\")'] -> b",
        "a: eval -> b",
        "a: (lambda: 1)() -> b",
        "a: Annotated[int, Field(gt=1)] -> b",
        "a -> b -> c",
        "a, a -> b",
        "a -> a",
        "class -> b",
        "a: " + "list[" * 20 + "int" + "]" * 20 + " -> b",
    ],
)
async def test_parse_refuses_what_is_not_a_whitelisted_field_list(
    client: httpx.AsyncClient, acme: TenantKeys, text: str
) -> None:
    response = await client.post("/signatures/parse", json={"signature": text}, headers=acme.auth("viewer"))
    assert response.status_code == 422, response.text
    assert response.json()["type"] == "urn:dspy-ash:problem:invalid-request"
    assert response.json()["errors"]


async def test_parse_never_looks_a_name_up(
    client: httpx.AsyncClient, acme: TenantKeys, monkeypatch: pytest.MonkeyPatch
) -> None:
    import builtins

    calls: list[str] = []
    real = builtins.__import__

    def spy(name: str, *args: Any, **kwargs: Any) -> Any:
        calls.append(name)
        return real(name, *args, **kwargs)

    text = "a: __import__('dspy_ash_never_imported') -> b"
    monkeypatch.setattr(builtins, "__import__", spy)
    response = await client.post("/signatures/parse", json={"signature": text}, headers=acme.auth("viewer"))
    monkeypatch.undo()
    assert response.status_code == 422
    assert "dspy_ash_never_imported" not in calls


async def test_signature_create_get_list_delete(
    client: httpx.AsyncClient, acme: TenantKeys, services: Services
) -> None:
    body = {
        "name": "qa",
        "instructions": "Answer with a number.",
        "inputs": [{"name": "question", "description": "a sum", "prefix": "Q:"}],
        "outputs": [{"name": "answer", "type": "int"}],
    }
    created = await client.post("/signatures", json=body, headers=acme.auth("editor"))
    assert created.status_code == 201, created.text
    sig = created.json()
    assert sig["spec"] == "question: str -> answer: int"
    assert sig["inputs"] == [
        {"name": "question", "kind": "input", "type": "str", "description": "a sum", "prefix": "Q:"}
    ]
    assert sig["instructions"] == "Answer with a number."
    again = await client.post("/signatures", json=body, headers=acme.auth("editor"))
    assert again.status_code == 409
    await client.post("/signatures", json={**body, "name": "b"}, headers=acme.auth("editor"))
    listed = (await client.get("/signatures", params={"sort": "-name"}, headers=acme.auth("viewer"))).json()
    assert [s["name"] for s in listed["items"]] == ["qa", "b"]
    got = (await client.get(f"/signatures/{sig['id']}", headers=acme.auth("viewer"))).json()
    assert got == sig
    assert (await client.delete(f"/signatures/{sig['id']}", headers=acme.auth("editor"))).status_code == 200
    assert (await client.get(f"/signatures/{sig['id']}", headers=acme.auth("viewer"))).status_code == 404
    assert await _count(services, acme, SignatureRow) == 1


async def test_signature_create_refuses_unsafe_types_by_field(
    client: httpx.AsyncClient, acme: TenantKeys, services: Services
) -> None:
    body = {
        "name": "bad",
        "inputs": [{"name": "q"}, {"name": "x", "type": "__import__('os').getcwd()"}],
        "outputs": [{"name": "q"}],
    }
    response = await client.post("/signatures", json=body, headers=acme.auth("editor"))
    assert response.status_code == 422
    fields = {e["field"] for e in response.json()["errors"]}
    assert fields == {"body.inputs.1.type", "body.outputs.0.name"}
    assert await _count(services, acme, SignatureRow) == 0


# -- datasets --------------------------------------------------------------------------------------


async def _upload(
    client: httpx.AsyncClient, acme: TenantKeys, fmt: str, content: str, **extra: Any
) -> httpx.Response:
    body = {"name": extra.pop("name", "d"), "format": fmt, "content": content, **extra}
    return await client.post("/datasets", json=body, headers=acme.auth("editor"))


def _csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "json"])
async def test_upload_split_export_round_trip(client: httpx.AsyncClient, acme: TenantKeys, fmt: str) -> None:
    content = {"jsonl": JSONL, "csv": _csv(ROWS), "json": json.dumps(ROWS)}[fmt]
    response = await _upload(client, acme, fmt, content, input_keys=["question"])
    assert response.status_code == 201, response.text
    dataset = response.json()
    assert (dataset["size"], dataset["input_keys"]) == (10, ["question"])
    base = f"/datasets/{dataset['id']}"
    split = await client.post(f"{base}/splits", json={"train": 0.6, "dev": 0.2, "test": 0.2, "seed": 7},
                              headers=acme.auth("editor"))  # fmt: skip
    assert split.json() == {"train": 6, "dev": 2, "test": 2}
    train = (await client.get(f"{base}/examples", params={"split": "train", "limit": 100},
                              headers=acme.auth("viewer"))).json()  # fmt: skip
    assert len(train["items"]) == 6 and {e["split"] for e in train["items"]} == {"train"}
    exported = (
        await client.get(f"{base}/export", params={"format": fmt}, headers=acme.auth("viewer"))
    ).json()
    assert exported["count"] == 10
    again = await _upload(client, acme, fmt, exported["content"], name="copy", input_keys=["question"])
    assert again.status_code == 201, again.text
    assert again.json()["content_hash"] == dataset["content_hash"]
    copied = (await client.get(f"/datasets/{again.json()['id']}/examples", params={"split": "train", "limit": 100},
                               headers=acme.auth("viewer"))).json()  # fmt: skip
    assert [e["data"] for e in copied["items"]] == [e["data"] for e in train["items"]]


async def test_same_seed_same_splits_and_explicit_splits(client: httpx.AsyncClient, acme: TenantKeys) -> None:
    first = (await _upload(client, acme, "jsonl", JSONL, name="a")).json()
    second = (await _upload(client, acme, "jsonl", JSONL, name="b")).json()
    splits: list[list[Any]] = []
    for dataset in (first, second):
        await client.post(f"/datasets/{dataset['id']}/splits", json={"train": 0.5, "dev": 0.5, "seed": 3},
                          headers=acme.auth("editor"))  # fmt: skip
        page = (await client.get(f"/datasets/{dataset['id']}/examples", headers=acme.auth())).json()
        splits.append([e["split"] for e in page["items"]])
    assert splits[0] == splits[1]
    base = f"/datasets/{first['id']}"
    explicit = await client.post(f"{base}/splits", json={"explicit": {"test": [0, 9], "dev": [1]}},
                                 headers=acme.auth("editor"))  # fmt: skip
    assert explicit.json() == {"train": 0, "dev": 1, "test": 2}
    page = (await client.get(f"{base}/examples", headers=acme.auth())).json()
    assert [e["split"] for e in page["items"]] == ["test", "dev", *[None] * 7, "test"]
    for bad in (
        {"explicit": {"dev": [10]}},
        {"explicit": {"dev": [1], "test": [1]}},
        {"train": 0.5, "explicit": {}},
    ):
        refused = await client.post(f"{base}/splits", json=bad, headers=acme.auth("editor"))
        assert refused.status_code == 422, refused.text


@pytest.mark.parametrize(
    ("fmt", "content", "where"),
    [
        ("jsonl", '{"q": 1}\n{"q": 2\n', "line 2"),
        ("jsonl", '{"q": 1}\n\n[1, 2]\n', "line 3"),
        ("jsonl", '{"q": 1, "split": "holdout"}\n', "line 1"),
        ("csv", "q,a\n1,2\n3\n", "row 2"),
        ("csv", "q,a\n1,2,3\n", "row 1"),
        ("csv", 'q,a\n1,"2\n', "row"),
        ("csv", "", "row 0"),
        ("json", '[{"q": 1},\n {"q": 2},\n oops]', "line 3"),
        ("json", '[{"q": 1}, "text"]', "record 2"),
        ("json", '{"q": 1}', "document"),
    ],
)
async def test_malformed_upload_names_the_place_and_creates_nothing(
    client: httpx.AsyncClient, acme: TenantKeys, services: Services, fmt: str, content: str, where: str
) -> None:
    before = await _count(services, acme, AuditEvent)
    response = await _upload(client, acme, fmt, content)
    assert response.status_code == 422, response.text
    assert where in response.json()["detail"]
    assert response.json()["errors"][0]["field"] == "body.content"
    assert await _count(services, acme, Dataset) == 0
    assert await _count(services, acme, AuditEvent) == before


async def test_csv_export_of_a_partly_split_dataset_uploads_back(
    client: httpx.AsyncClient, acme: TenantKeys
) -> None:
    dataset = (await _upload(client, acme, "jsonl", JSONL)).json()
    base = f"/datasets/{dataset['id']}"
    await client.post(f"{base}/splits", json={"explicit": {"dev": [2]}}, headers=acme.auth("editor"))
    exported = (await client.get(f"{base}/export", params={"format": "csv"}, headers=acme.auth())).json()
    again = await _upload(client, acme, "csv", exported["content"], name="copy")
    assert again.status_code == 201, again.text
    page = (await client.get(f"/datasets/{again.json()['id']}/examples", headers=acme.auth())).json()
    assert [e["split"] for e in page["items"]] == [None, None, "dev", *[None] * 7]


async def test_upload_input_keys_and_bounds(client: httpx.AsyncClient, acme: TenantKeys) -> None:
    missing = await _upload(client, acme, "jsonl", JSONL + '{"answer": "0"}\n', input_keys=["question"])
    assert missing.status_code == 422 and "record 11" in missing.json()["detail"]
    too_big = await _upload(client, acme, "jsonl", "x" * (70 * 1024))
    assert too_big.status_code == 413  # the service's body limit comes first
    unknown = await client.post(
        "/datasets", json={"name": "d", "format": "xml", "content": ""}, headers=acme.auth()
    )
    assert unknown.status_code == 422


async def test_dataset_get_list_delete_with_its_examples(
    client: httpx.AsyncClient, acme: TenantKeys, services: Services
) -> None:
    dataset = (await _upload(client, acme, "jsonl", JSONL)).json()
    page = (
        await client.get(f"/datasets/{dataset['id']}/examples", params={"limit": 4}, headers=acme.auth())
    ).json()
    assert [e["position"] for e in page["items"]] == [0, 1, 2, 3] and page["next_cursor"]
    listed = (await client.get("/datasets", headers=acme.auth("viewer"))).json()
    assert [d["id"] for d in listed["items"]] == [dataset["id"]]
    deleted = await client.delete(f"/datasets/{dataset['id']}", headers=acme.auth("editor"))
    assert deleted.status_code == 200
    gone = await client.get(f"/datasets/{dataset['id']}/examples", headers=acme.auth())
    assert gone.status_code == 404


# -- metric definitions and optimizer configs -----------------------------------------------------

BUILTIN = {"name": "exact", "kind": "builtin", "config": {"name": "answer_exact_match"}}


@pytest.fixture
def secret_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """Providers with a stored key (a judge's provider has one, which no metric response may show)."""
    monkeypatch.setenv("DSPY_ASH_SECRET_KEY", Fernet.generate_key().decode())


async def _provider_id(client: httpx.AsyncClient, tenant: TenantKeys, name: str = "judge") -> str:
    body = {"name": name, "kind": "openai", "api_key": "sk-judge-secret"}
    response = await client.post("/providers", json=body, headers=tenant.auth("admin"))
    assert response.status_code == 201, response.text
    return response.json()["id"]


def _judge(provider: str, **config: Any) -> dict[str, Any]:
    judge = {"provider_id": provider, "model": "gpt-4o-mini", "instructions": "Is it right?",
             "output_field": "verdict", **config}  # fmt: skip
    return {"name": "judge", "kind": "lm_judge", "config": judge}


@pytest.mark.usefixtures("secret_key")
async def test_metric_create_list_get_delete(
    client: httpx.AsyncClient, acme: TenantKeys, services: Services
) -> None:
    created = await client.post("/metrics", json=BUILTIN, headers=acme.auth("editor"))
    assert created.status_code == 201, created.text
    builtin = created.json()
    assert (builtin["name"], builtin["kind"], builtin["config"]) == ("exact", "builtin", BUILTIN["config"])
    again = await client.post("/metrics", json={**BUILTIN, "config": {"name": "semantic_f1"}},
                              headers=acme.auth("editor"))  # fmt: skip
    assert again.status_code == 409, again.text
    provider_id = await _provider_id(client, acme)
    judged = await client.post("/metrics", json=_judge(provider_id), headers=acme.auth("editor"))
    assert judged.status_code == 201, judged.text
    judge = judged.json()
    assert judge["config"] == _judge(provider_id)["config"]
    assert "sk-judge-secret" not in judged.text and "secret" not in judged.text
    listed = (await client.get("/metrics", params={"sort": "name"}, headers=acme.auth("viewer"))).json()
    assert [m["name"] for m in listed["items"]] == ["exact", "judge"]
    judges = (await client.get("/metrics", params={"kind": "lm_judge"}, headers=acme.auth("viewer"))).json()
    assert [m["id"] for m in judges["items"]] == [judge["id"]]
    assert "sk-judge-secret" not in json.dumps(listed)
    got = await client.get(f"/metrics/{judge['id']}", headers=acme.auth("viewer"))
    assert got.json() == judge
    deleted = await client.delete(f"/metrics/{builtin['id']}", headers=acme.auth("editor"))
    assert deleted.json() == {"id": builtin["id"], "deleted": True}
    assert (await client.get(f"/metrics/{builtin['id']}", headers=acme.auth("viewer"))).status_code == 404
    assert await _count(services, acme, MetricDefinition) == 1


async def test_metric_writes_are_the_editors_and_rows_the_tenants(
    client: httpx.AsyncClient, acme: TenantKeys, globex: TenantKeys
) -> None:
    refused = await client.post("/metrics", json=BUILTIN, headers=acme.auth("viewer"))
    assert refused.status_code == 403, refused.text
    metric = (await client.post("/metrics", json=BUILTIN, headers=acme.auth("editor"))).json()
    theirs = (await client.get("/metrics", headers=globex.auth("admin"))).json()
    assert theirs["items"] == []
    assert (await client.get(f"/metrics/{metric['id']}", headers=globex.auth())).status_code == 404
    assert (await client.delete(f"/metrics/{metric['id']}", headers=globex.auth())).status_code == 404
    # the other tenant may use the same name: names are unique per tenant
    assert (await client.post("/metrics", json=BUILTIN, headers=globex.auth("editor"))).status_code == 201


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"config": {"name": "accuracy"}}, "body.config"),
        ({"config": {"name": "answer_exact_match", "extra": 1}}, "body.config"),
        ({"kind": "regex"}, "body.kind"),
        ({"kind": "lm_judge"}, "body"),
        ({"name": ""}, "body.name"),
        ({"name": "x" * 201}, "body.name"),
        ({"config": []}, "body.config"),
    ],
)
async def test_metric_create_refuses_a_bad_definition(
    client: httpx.AsyncClient, acme: TenantKeys, services: Services, change: dict[str, Any], field: str
) -> None:
    response = await client.post("/metrics", json={**BUILTIN, **change}, headers=acme.auth("editor"))
    assert response.status_code == 422, response.text
    assert response.json()["type"] == "urn:dspy-ash:problem:invalid-request"
    assert any(e["field"].startswith(field) for e in response.json()["errors"]), response.text
    assert await _count(services, acme, MetricDefinition) == 0


@pytest.mark.usefixtures("secret_key")
async def test_lm_judge_needs_a_provider_of_the_tenant(
    client: httpx.AsyncClient, acme: TenantKeys, globex: TenantKeys, services: Services
) -> None:
    theirs = await _provider_id(client, globex)
    for provider_id in (theirs, str(uuid.uuid4())):
        response = await client.post("/metrics", json=_judge(provider_id), headers=acme.auth("editor"))
        assert response.status_code == 422, response.text
        assert [e["field"] for e in response.json()["errors"]] == ["body.config.provider_id"]
        assert str(globex.tenant_id) not in response.text
    mine = await _provider_id(client, acme)
    for bad in ({"output_field": "the verdict"}, {"model": " "}, {"provider_id": "p1"}, {"temperature": 0}):
        response = await client.post("/metrics", json=_judge(mine, **bad), headers=acme.auth("editor"))
        assert response.status_code == 422, (bad, response.text)
    assert await _count(services, acme, MetricDefinition) == 0


async def test_optimizer_config_create_update_list_get_delete(
    client: httpx.AsyncClient, acme: TenantKeys, globex: TenantKeys, services: Services
) -> None:
    body = {"name": "few-shot", "optimizer": "BootstrapFewShot", "config": {"max_bootstrapped_demos": 2}}
    created = await client.post("/optimizer-configs", json=body, headers=acme.auth("editor"))
    assert created.status_code == 201, created.text
    config = created.json()
    assert (config["optimizer"], config["config"], config["description"]) == (
        "BootstrapFewShot", {"max_bootstrapped_demos": 2}, ""
    )  # fmt: skip
    assert (
        await client.post("/optimizer-configs", json=body, headers=acme.auth("editor"))
    ).status_code == 409
    other = (await client.post("/optimizer-configs", json={**body, "name": "mipro", "optimizer": "MIPROv2"},
                               headers=acme.auth("editor"))).json()  # fmt: skip
    base = f"/optimizer-configs/{config['id']}"
    changed = await client.patch(base, json={"config": {"max_labeled_demos": 4}, "description": "more"},
                                 headers=acme.auth("editor"))  # fmt: skip
    assert changed.status_code == 200, changed.text
    assert (changed.json()["name"], changed.json()["config"], changed.json()["description"]) == (
        "few-shot", {"max_labeled_demos": 4}, "more"
    )  # fmt: skip
    taken = await client.patch(base, json={"name": "mipro"}, headers=acme.auth("editor"))
    assert taken.status_code == 409, taken.text
    viewer = await client.patch(base, json={"name": "x"}, headers=acme.auth("viewer"))
    assert viewer.status_code == 403
    mipro = (
        await client.get("/optimizer-configs", params={"optimizer": "MIPROv2"}, headers=acme.auth("viewer"))
    ).json()
    assert [c["id"] for c in mipro["items"]] == [other["id"]]
    assert (await client.get(base, headers=acme.auth("viewer"))).json() == changed.json()
    assert (await client.get(base, headers=globex.auth())).status_code == 404
    assert (await client.get("/optimizer-configs", headers=globex.auth())).json()["items"] == []
    assert (await client.delete(base, headers=acme.auth("editor"))).status_code == 200
    assert (await client.get(base, headers=acme.auth("viewer"))).status_code == 404
    assert await _count(services, acme, OptimizerConfig) == 1


@pytest.mark.parametrize(
    "change",
    [
        {"optimizer": "exec"},
        {"optimizer": "dspy.MIPROv2"},
        {"config": [1, 2]},
        {"config": {f"k{i}": i for i in range(101)}},
        {"config": {"demos": "x" * 64_001}},
        {"name": ""},
        {"seed": 1},
    ],
)
async def test_optimizer_config_create_refuses_bad_input(
    client: httpx.AsyncClient, acme: TenantKeys, services: Services, change: dict[str, Any]
) -> None:
    body = {"name": "c", "optimizer": "COPRO", **change}
    response = await client.post("/optimizer-configs", json=body, headers=acme.auth("editor"))
    assert response.status_code == 422, response.text
    assert await _count(services, acme, OptimizerConfig) == 0


# -- runs ------------------------------------------------------------------------------------------


async def _program(client: httpx.AsyncClient, acme: TenantKeys, name: str = "qa") -> str:
    response = await client.post(
        "/programs", json={"name": name, "source": "myapp.qa:QA"}, headers=acme.auth()
    )
    return response.json()["id"]


async def test_runs_queue_filter_and_cancel(
    client: httpx.AsyncClient, acme: TenantKeys, services: Services
) -> None:
    program_id = await _program(client, acme)
    other = await _program(client, acme, "other")
    base = f"/programs/{program_id}/optimizer-runs"
    body = {
        "optimizer": "BootstrapFewShot",
        "config": {"max_bootstrapped_demos": 2},
        "metric": "answer_exact_match",
    }
    run = (await client.post(base, json=body, headers=acme.auth("editor"))).json()
    assert (run["status"], run["progress"], run["trials"], run["score"]) == ("queued", 0.0, [], None)
    await client.post(f"/programs/{other}/optimizer-runs", json=body, headers=acme.auth("editor"))
    mine = (
        await client.get("/optimizer-runs", params={"program_id": program_id}, headers=acme.auth())
    ).json()
    assert [r["id"] for r in mine["items"]] == [run["id"]]
    cancelled = await client.post(f"/optimizer-runs/{run['id']}/cancel", headers=acme.auth("editor"))
    assert cancelled.json()["status"] == "cancelled" and cancelled.json()["finished_at"]
    twice = await client.post(f"/optimizer-runs/{run['id']}/cancel", headers=acme.auth("editor"))
    assert twice.status_code == 409
    assert twice.json()["type"] == "urn:dspy-ash:problem:illegal-transition"
    queued = (await client.get("/optimizer-runs", params={"status": "queued"}, headers=acme.auth())).json()
    assert len(queued["items"]) == 1
    unknown = await client.post(base, json={"optimizer": "exec"}, headers=acme.auth("editor"))
    assert unknown.status_code == 422


async def test_succeeded_run_cannot_be_cancelled(
    client: httpx.AsyncClient, acme: TenantKeys, services: Services
) -> None:
    program_id = await _program(client, acme)
    run = (await client.post(f"/programs/{program_id}/evaluation-runs", json={}, headers=acme.auth())).json()
    async with services.db.transaction() as s:
        for to in ("running", "succeeded"):
            await repos.runs.transition(s, tenant_id=acme.tenant_id, actor="worker", kind="evaluation",
                                        run_id=uuid.UUID(run["id"]), to=to, score=0.5)  # fmt: skip
    refused = await client.post(f"/evaluation-runs/{run['id']}/cancel", headers=acme.auth("editor"))
    assert refused.status_code == 409
    assert (await client.get(f"/evaluation-runs/{run['id']}", headers=acme.auth())).json()[
        "status"
    ] == "succeeded"


async def test_evaluation_results_and_summary(
    client: httpx.AsyncClient, acme: TenantKeys, services: Services
) -> None:
    program_id = await _program(client, acme)
    dataset = (await _upload(client, acme, "jsonl", JSONL)).json()
    await client.post(
        f"/datasets/{dataset['id']}/splits", json={"train": 0.5, "dev": 0.5}, headers=acme.auth()
    )
    body = {"dataset_id": dataset["id"], "split": "dev", "metric": "answer_exact_match"}
    run = (
        await client.post(f"/programs/{program_id}/evaluation-runs", json=body, headers=acme.auth())
    ).json()
    assert run["split"] == "dev" and run["dataset_hash"] != dataset["content_hash"]
    no_dataset = await client.post(
        f"/programs/{program_id}/evaluation-runs", json={"split": "dev"}, headers=acme.auth()
    )
    assert no_dataset.status_code == 422
    results: list[dict[str, Any]] = [
        {"position": i, "score": float(i % 2), "prediction": {"answer": str(i)}} for i in range(5)
    ]
    results.append({"position": 5, "error": "timeout"})
    async with services.db.transaction() as s:
        await repos.evaluations.add_results(
            s, tenant_id=acme.tenant_id, actor="worker", run_id=uuid.UUID(run["id"]), results=results
        )
    page = (
        await client.get(f"/evaluation-runs/{run['id']}/results", params={"limit": 4}, headers=acme.auth())
    ).json()
    assert [r["position"] for r in page["items"]] == [0, 1, 2, 3] and page["next_cursor"]
    summary = (await client.get(f"/evaluation-runs/{run['id']}/summary", headers=acme.auth())).json()
    assert summary["count"] == 6 and summary["errors"] == 1 and summary["mean_score"] == pytest.approx(0.4)


# -- traces and the LM request log ----------------------------------------------------------------


async def test_traces_filter_and_spans_in_tree_order(
    client: httpx.AsyncClient, acme: TenantKeys, services: Services
) -> None:
    program_id = uuid.uuid4()
    old = await seed_trace(services, acme.tenant_id, program_id=program_id, latencies=(0.1, 0.2))
    new = await seed_trace(services, acme.tenant_id, status="error", started_at=T0 + timedelta(hours=1))
    listed = (await client.get("/traces", headers=acme.auth("viewer"))).json()
    assert [t["id"] for t in listed["items"]] == [str(new), str(old)]
    errors = (await client.get("/traces", params={"status": "error"}, headers=acme.auth())).json()
    assert [t["id"] for t in errors["items"]] == [str(new)]
    window = {
        "since": (T0 - timedelta(minutes=1)).isoformat(),
        "until": (T0 + timedelta(minutes=1)).isoformat(),
    }
    early = (await client.get("/traces", params=window, headers=acme.auth())).json()
    assert [t["id"] for t in early["items"]] == [str(old)]
    by_program = (
        await client.get("/traces", params={"program_id": str(program_id)}, headers=acme.auth())
    ).json()
    assert [t["id"] for t in by_program["items"]] == [str(old)]
    naive = await client.get("/traces", params={"since": "2026-01-01T00:00:00"}, headers=acme.auth())
    assert naive.status_code == 422
    trace = (await client.get(f"/traces/{old}", headers=acme.auth())).json()
    assert [(s["call_id"], s["depth"]) for s in trace["spans"]] == [
        ("root", 0),
        ("child", 1),
        ("lm0", 2),
        ("lm1", 2),
    ]
    assert trace["spans"][2]["prompt"][1]["content"] == "question 0"


async def test_lm_request_log_history_and_usage(
    client: httpx.AsyncClient, acme: TenantKeys, services: Services
) -> None:
    await seed_trace(services, acme.tenant_id, latencies=(0.1, 0.2, 0.3, 0.4))
    await seed_trace(services, acme.tenant_id, model="anthropic/claude", latencies=(1.0,),
                     started_at=T0 + timedelta(hours=1))  # fmt: skip
    log = (
        await client.get("/lm-requests", params={"provider": "openai"}, headers=acme.auth("viewer"))
    ).json()
    assert len(log["items"]) == 4 and {r["model"] for r in log["items"]} == {"openai/gpt-4o-mini"}
    history = (await client.get("/lm-requests/history", params={"n": 2}, headers=acme.auth())).json()
    assert [c["outputs"] for c in history["calls"]] == [["answer 3"], ["answer 0"]]  # oldest first
    text = history["text"]
    assert text.count("User message:") == 2 and "Response:" in text and "answer 3" in text
    assert text.index("answer 3") < text.index("question 0\n") and "\x1b[" not in text
    usage = (await client.get("/lm-requests/usage", params={"group_by": "model"}, headers=acme.auth())).json()
    groups = {g["model"]: g for g in usage["groups"]}
    openai = groups["openai/gpt-4o-mini"]
    assert (openai["requests"], openai["total_tokens"], openai["cache_hits"]) == (4, 60, 2)
    assert openai["latency_avg"] == pytest.approx(0.25)
    assert openai["latency_p50"] == pytest.approx(0.25) and openai["latency_p99"] == pytest.approx(0.397)
    assert openai["cost"] == pytest.approx(0.004) and openai["provider"] is None
    since = {"since": (T0 + timedelta(minutes=30)).isoformat(), "group_by": ["provider"]}
    later = (await client.get("/lm-requests/usage", params=since, headers=acme.auth())).json()
    assert [(g["provider"], g["requests"]) for g in later["groups"]] == [("anthropic", 1)]


# -- the cache -------------------------------------------------------------------------------------


async def test_cache_stats_and_purges(
    client: httpx.AsyncClient, acme: TenantKeys, services: Services
) -> None:
    await seed_cache(services, acme.tenant_id, n=2)
    await seed_cache(services, acme.tenant_id, expired=True)
    await seed_cache(services, acme.tenant_id, model="claude-3", n=2)
    await seed_trace(services, acme.tenant_id, latencies=(0.1, 0.2))
    stats = (await client.get("/cache", headers=acme.auth("viewer"))).json()
    assert (stats["entries"], stats["expired"], stats["requests"], stats["hits"]) == (5, 1, 2, 1)
    assert stats["bytes"] > 5 * len('{"choices"') and stats["hit_ratio"] == 0.5
    editor = await client.post("/cache/purge", json={"scope": "all"}, headers=acme.auth("editor"))
    assert editor.status_code == 403
    expired = (await client.post("/cache/purge", json={}, headers=acme.auth())).json()
    assert expired == {"scope": "expired", "model": None, "removed": 1}
    model = await client.post(
        "/cache/purge", json={"scope": "model", "model": "anthropic/claude-3"}, headers=acme.auth()
    )
    assert model.json()["removed"] == 2
    mixed = await client.post("/cache/purge", json={"scope": "all", "model": "x"}, headers=acme.auth())
    assert mixed.status_code == 422
    rest = (await client.post("/cache/purge", json={"scope": "all"}, headers=acme.auth())).json()
    assert rest["removed"] == 2
    trail = (
        await client.get("/audit-events", params={"resource_type": "lm_cache_entry"}, headers=acme.auth())
    ).json()
    assert [e["after"]["removed"] for e in trail["items"]] == [2, 2, 1]
