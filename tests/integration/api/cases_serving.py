"""Authorization-matrix cases for LM providers, modules, program execution and program stats.

The calls that reach an LM use a provider pointing at one fake OpenAI-compatible server on 127.0.0.1,
started once for the process on a thread of its own (cases run on each test's event loop).
"""

from __future__ import annotations

import atexit
import os
from typing import Any

from api_helpers import Call, Case, World
from cryptography.fernet import Fernet

from dspy_ash.testing import FakeOpenAIServer

# Providers' stored keys are encrypted under this; set once for the test process unless already set.
os.environ.setdefault("DSPY_ASH_SECRET_KEY", Fernet.generate_key().decode())

SPEC: dict[str, Any] = {
    "inputs": ["question"],
    "steps": [{"type": "predict", "id": "answer", "signature": "question -> answer"}],
    "outputs": {"answer": "answer.answer"},
}
_server: FakeOpenAIServer | None = None


def fake_lm_base() -> str:
    """The api_base of the process's fake LM server, started on first use."""
    global _server
    if _server is None:
        _server = FakeOpenAIServer().__enter__()
        atexit.register(_server.__exit__, None, None, None)
    return _server.api_base


def provider_body(name: str = "fake", **config: Any) -> dict[str, Any]:
    return {
        "name": name,
        "kind": "openai_compatible",
        "base_url": fake_lm_base(),
        "config": {"model": "fake-model", "num_retries": 0, **config},
    }


async def _provider(world: World) -> str:
    return (await world.post("/providers", provider_body()))["id"]


async def _program(world: World) -> str:
    await _provider(world)
    return (await world.post("/programs", {"name": "served", "spec": SPEC}))["id"]


async def _module(world: World) -> str:
    program_id = await _program(world)
    body = {"name": "answer", "signature": "question -> answer"}
    return (await world.post(f"/programs/{program_id}/modules", body))["id"]


async def providers_create(world: World) -> Call:
    return Call("POST", "/providers", json={**provider_body(), "api_key": "sk-case"})


async def providers_list(world: World) -> Call:
    await _provider(world)
    return Call("GET", "/providers")


async def providers_get(world: World) -> Call:
    return Call("GET", f"/providers/{await _provider(world)}")


async def providers_update(world: World) -> Call:
    return Call("PATCH", f"/providers/{await _provider(world)}", json={"name": "renamed"})


async def providers_set_secret(world: World) -> Call:
    return Call("PUT", f"/providers/{await _provider(world)}/secret", json={"api_key": "sk-new"})


async def providers_delete(world: World) -> Call:
    return Call("DELETE", f"/providers/{await _provider(world)}")


async def providers_set_default(world: World) -> Call:
    return Call("POST", f"/providers/{await _provider(world)}/default")


async def providers_generate(world: World) -> Call:
    body = {"messages": [{"role": "user", "content": "hello"}]}
    return Call("POST", f"/providers/{await _provider(world)}/generate", json=body)


async def modules_create(world: World) -> Call:
    body = {"name": "m", "type": "chain_of_thought", "signature": "question -> answer"}
    return Call("POST", f"/programs/{await _program(world)}/modules", json=body)


async def modules_list(world: World) -> Call:
    await _module(world)
    return Call("GET", "/modules")


async def modules_get(world: World) -> Call:
    return Call("GET", f"/modules/{await _module(world)}")


async def modules_delete(world: World) -> Call:
    return Call("DELETE", f"/modules/{await _module(world)}")


async def modules_forward(world: World) -> Call:
    body = {"inputs": {"question": "Capital of France?"}}
    return Call("POST", f"/modules/{await _module(world)}/forward", json=body)


async def programs_execute(world: World) -> Call:
    body = {"inputs": {"question": "Capital of France?"}}
    return Call("POST", f"/programs/{await _program(world)}/execute", json=body)


async def programs_stats(world: World) -> Call:
    return Call("GET", f"/programs/{await _program(world)}/stats")


CASES: dict[str, Case] = {
    "providers.create": providers_create,
    "providers.list": providers_list,
    "providers.get": providers_get,
    "providers.update": providers_update,
    "providers.set_secret": providers_set_secret,
    "providers.delete": providers_delete,
    "providers.set_default": providers_set_default,
    "providers.generate": providers_generate,
    "modules.create": modules_create,
    "modules.list": modules_list,
    "modules.get": modules_get,
    "modules.delete": modules_delete,
    "modules.forward": modules_forward,
    "programs.execute": programs_execute,
    "programs.stats": programs_stats,
}
