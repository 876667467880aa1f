"""Authorization-matrix cases for signatures, datasets and examples, metric definitions, optimizer
configs, runs, traces, the LM request log and the cache."""

from __future__ import annotations

import uuid

from api_helpers import Call, Case, World
from resources_helpers import seed_cache, seed_trace

JSONL = '{"question": "1+1?", "answer": "2"}\n{"question": "2+2?", "answer": "4"}\n'
METRIC = {"name": "exact", "kind": "builtin", "config": {"name": "answer_exact_match"}}
OPTIMIZER_CONFIG = {
    "name": "few-shot",
    "optimizer": "BootstrapFewShot",
    "config": {"max_bootstrapped_demos": 2},
}
SIGNATURE = {"name": "qa", "inputs": [{"name": "question"}], "outputs": [{"name": "answer", "type": "int"}]}


async def _signature(world: World) -> str:
    return (await world.post("/signatures", SIGNATURE))["id"]


async def _dataset(world: World) -> str:
    body = {"name": "d", "format": "jsonl", "content": JSONL, "input_keys": ["question"]}
    return (await world.post("/datasets", body))["id"]


async def _metric(world: World) -> str:
    return (await world.post("/metrics", METRIC))["id"]


async def _optimizer_config(world: World) -> str:
    return (await world.post("/optimizer-configs", OPTIMIZER_CONFIG))["id"]


async def _program(world: World) -> str:
    return (await world.post("/programs", {"name": "qa", "source": "myapp.qa:QA"}))["id"]


async def _optimizer_run(world: World) -> str:
    body = {"optimizer": "BootstrapFewShot", "metric": "answer_exact_match"}
    return (await world.post(f"/programs/{await _program(world)}/optimizer-runs", body))["id"]


async def _evaluation_run(world: World) -> str:
    body = {"dataset_id": await _dataset(world), "metric": "answer_exact_match"}
    return (await world.post(f"/programs/{await _program(world)}/evaluation-runs", body))["id"]


async def signatures_parse(world: World) -> Call:
    return Call(
        "POST", "/signatures/parse", json={"signature": "question, context: list[str] -> answer: int"}
    )


async def signatures_create(world: World) -> Call:
    return Call("POST", "/signatures", json=SIGNATURE)


async def signatures_get(world: World) -> Call:
    return Call("GET", f"/signatures/{await _signature(world)}")


async def signatures_list(world: World) -> Call:
    await _signature(world)
    return Call("GET", "/signatures")


async def signatures_delete(world: World) -> Call:
    return Call("DELETE", f"/signatures/{await _signature(world)}")


async def datasets_upload(world: World) -> Call:
    return Call("POST", "/datasets", json={"name": "new", "format": "jsonl", "content": JSONL})


async def datasets_list(world: World) -> Call:
    await _dataset(world)
    return Call("GET", "/datasets")


async def datasets_get(world: World) -> Call:
    return Call("GET", f"/datasets/{await _dataset(world)}")


async def datasets_delete(world: World) -> Call:
    return Call("DELETE", f"/datasets/{await _dataset(world)}")


async def datasets_split(world: World) -> Call:
    return Call(
        "POST", f"/datasets/{await _dataset(world)}/splits", json={"train": 0.5, "dev": 0.5, "seed": 1}
    )


async def datasets_splits(world: World) -> Call:
    return Call("GET", f"/datasets/{await _dataset(world)}/splits")


async def datasets_export(world: World) -> Call:
    return Call("GET", f"/datasets/{await _dataset(world)}/export", params={"format": "csv"})


async def examples_list(world: World) -> Call:
    return Call("GET", f"/datasets/{await _dataset(world)}/examples")


async def metrics_create(world: World) -> Call:
    return Call("POST", "/metrics", json=METRIC)


async def metrics_list(world: World) -> Call:
    await _metric(world)
    return Call("GET", "/metrics", params={"kind": "builtin"})


async def metrics_get(world: World) -> Call:
    return Call("GET", f"/metrics/{await _metric(world)}")


async def metrics_delete(world: World) -> Call:
    return Call("DELETE", f"/metrics/{await _metric(world)}")


async def optimizer_configs_create(world: World) -> Call:
    return Call("POST", "/optimizer-configs", json=OPTIMIZER_CONFIG)


async def optimizer_configs_list(world: World) -> Call:
    await _optimizer_config(world)
    return Call("GET", "/optimizer-configs", params={"sort": "name"})


async def optimizer_configs_get(world: World) -> Call:
    return Call("GET", f"/optimizer-configs/{await _optimizer_config(world)}")


async def optimizer_configs_update(world: World) -> Call:
    return Call(
        "PATCH", f"/optimizer-configs/{await _optimizer_config(world)}", json={"optimizer": "MIPROv2"}
    )


async def optimizer_configs_delete(world: World) -> Call:
    return Call("DELETE", f"/optimizer-configs/{await _optimizer_config(world)}")


async def optimizer_runs_create(world: World) -> Call:
    return Call("POST", f"/programs/{await _program(world)}/optimizer-runs", json={"optimizer": "MIPROv2"})


async def optimizer_runs_get(world: World) -> Call:
    return Call("GET", f"/optimizer-runs/{await _optimizer_run(world)}")


async def optimizer_runs_list(world: World) -> Call:
    await _optimizer_run(world)
    return Call("GET", "/optimizer-runs", params={"status": "queued"})


async def optimizer_runs_cancel(world: World) -> Call:
    return Call("POST", f"/optimizer-runs/{await _optimizer_run(world)}/cancel")


async def evaluation_runs_create(world: World) -> Call:
    body = {"dataset_id": await _dataset(world), "split": "train"}
    return Call("POST", f"/programs/{await _program(world)}/evaluation-runs", json=body)


async def _cancelled(world: World, kind: str, run_id: str) -> str:
    await world.post(f"/{kind}-runs/{run_id}/cancel", {}, status=200)
    return run_id


async def optimizer_runs_resume(world: World) -> Call:
    return Call(
        "POST", f"/optimizer-runs/{await _cancelled(world, 'optimizer', await _optimizer_run(world))}/resume"
    )


async def evaluation_runs_resume(world: World) -> Call:
    run_id = await _cancelled(world, "evaluation", await _evaluation_run(world))
    return Call("POST", f"/evaluation-runs/{run_id}/resume")


async def evaluation_runs_get(world: World) -> Call:
    return Call("GET", f"/evaluation-runs/{await _evaluation_run(world)}")


async def evaluation_runs_list(world: World) -> Call:
    await _evaluation_run(world)
    return Call("GET", "/evaluation-runs")


async def evaluation_runs_cancel(world: World) -> Call:
    return Call("POST", f"/evaluation-runs/{await _evaluation_run(world)}/cancel")


async def evaluation_runs_results(world: World) -> Call:
    return Call("GET", f"/evaluation-runs/{await _evaluation_run(world)}/results")


async def evaluation_runs_summary(world: World) -> Call:
    return Call("GET", f"/evaluation-runs/{await _evaluation_run(world)}/summary")


async def traces_list(world: World) -> Call:
    await seed_trace(world.services, world.tenant.tenant_id)
    return Call("GET", "/traces")


async def traces_get(world: World) -> Call:
    return Call("GET", f"/traces/{await seed_trace(world.services, world.tenant.tenant_id)}")


async def lm_requests_list(world: World) -> Call:
    await seed_trace(world.services, world.tenant.tenant_id, program_id=uuid.uuid4())
    return Call("GET", "/lm-requests")


async def lm_requests_history(world: World) -> Call:
    await seed_trace(world.services, world.tenant.tenant_id)
    return Call("GET", "/lm-requests/history", params={"n": 2})


async def lm_requests_usage(world: World) -> Call:
    await seed_trace(world.services, world.tenant.tenant_id, latencies=(0.1, 0.2, 0.3))
    return Call("GET", "/lm-requests/usage", params={"group_by": ["provider", "model"]})


async def cache_stats(world: World) -> Call:
    await seed_cache(world.services, world.tenant.tenant_id, n=2)
    return Call("GET", "/cache")


async def cache_purge(world: World) -> Call:
    await seed_cache(world.services, world.tenant.tenant_id, n=2)
    return Call("POST", "/cache/purge", json={"scope": "all"})


CASES: dict[str, Case] = {
    "signatures.parse": signatures_parse,
    "signatures.create": signatures_create,
    "signatures.get": signatures_get,
    "signatures.list": signatures_list,
    "signatures.delete": signatures_delete,
    "datasets.upload": datasets_upload,
    "datasets.list": datasets_list,
    "datasets.get": datasets_get,
    "datasets.delete": datasets_delete,
    "datasets.split": datasets_split,
    "datasets.splits": datasets_splits,
    "datasets.export": datasets_export,
    "examples.list": examples_list,
    "metrics.create": metrics_create,
    "metrics.list": metrics_list,
    "metrics.get": metrics_get,
    "metrics.delete": metrics_delete,
    "optimizer_configs.create": optimizer_configs_create,
    "optimizer_configs.list": optimizer_configs_list,
    "optimizer_configs.get": optimizer_configs_get,
    "optimizer_configs.update": optimizer_configs_update,
    "optimizer_configs.delete": optimizer_configs_delete,
    "optimizer_runs.create": optimizer_runs_create,
    "optimizer_runs.get": optimizer_runs_get,
    "optimizer_runs.list": optimizer_runs_list,
    "optimizer_runs.cancel": optimizer_runs_cancel,
    "optimizer_runs.resume": optimizer_runs_resume,
    "evaluation_runs.create": evaluation_runs_create,
    "evaluation_runs.get": evaluation_runs_get,
    "evaluation_runs.list": evaluation_runs_list,
    "evaluation_runs.cancel": evaluation_runs_cancel,
    "evaluation_runs.resume": evaluation_runs_resume,
    "evaluation_runs.results": evaluation_runs_results,
    "evaluation_runs.summary": evaluation_runs_summary,
    "traces.list": traces_list,
    "traces.get": traces_get,
    "lm_requests.list": lm_requests_list,
    "lm_requests.history": lm_requests_history,
    "lm_requests.usage": lm_requests_usage,
    "cache.stats": cache_stats,
    "cache.purge": cache_purge,
}
