"""Model strings resolve through one table; keys come from the argument or the environment."""

from __future__ import annotations

import pytest

from dspy_ash.errors import LMConfigurationError
from dspy_ash.lm._registry import PROVIDERS, build_client, resolve
from dspy_ash.lm.providers._anthropic import AnthropicLM
from dspy_ash.lm.providers._ollama import OllamaChatLM
from dspy_ash.lm.providers._openai_compat import OpenAICompatLM


@pytest.mark.parametrize(
    ("model", "cls", "name", "base"),
    [
        ("openai/gpt-4o-mini", OpenAICompatLM, "gpt-4o-mini", "https://api.openai.com/v1"),
        ("gpt-4o-mini", OpenAICompatLM, "gpt-4o-mini", "https://api.openai.com/v1"),
        (
            "anthropic/claude-3-5-haiku-latest",
            AnthropicLM,
            "claude-3-5-haiku-latest",
            "https://api.anthropic.com/v1",
        ),
        ("ollama_chat/llama3.2", OllamaChatLM, "llama3.2", "http://localhost:11434"),
        (
            "together_ai/meta-llama/Llama-3-8b",
            OpenAICompatLM,
            "meta-llama/Llama-3-8b",
            "https://api.together.xyz/v1",
        ),
        (
            "groq/llama-3.1-8b-instant",
            OpenAICompatLM,
            "llama-3.1-8b-instant",
            "https://api.groq.com/openai/v1",
        ),
        ("openrouter/openai/gpt-4o", OpenAICompatLM, "openai/gpt-4o", "https://openrouter.ai/api/v1"),
        ("hosted_vllm/Qwen/Qwen2.5-7B", OpenAICompatLM, "Qwen/Qwen2.5-7B", "http://localhost:8000/v1"),
        ("llama_cpp/model", OpenAICompatLM, "model", "http://localhost:8080/v1"),
    ],
)
def test_resolution(model: str, cls: type, name: str, base: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for spec in PROVIDERS.values():
        if spec.base_env:
            monkeypatch.delenv(spec.base_env, raising=False)
    client = build_client(resolve(model), api_key=None, api_base=None, timeout=5)
    assert type(client) is cls
    assert client.model == name
    assert client.endpoint.api_base == base


def test_api_base_routes_any_openai_compatible_server() -> None:
    resolved = resolve("meta-llama/Llama-3-8B", api_base="http://127.0.0.1:9/v1")
    client = build_client(resolved, api_key=None, api_base="http://127.0.0.1:9/v1", timeout=5)
    assert type(client) is OpenAICompatLM and client.model == "meta-llama/Llama-3-8B"


def test_explicit_provider() -> None:
    assert resolve("anthropic/claude-x", provider="anthropic").model == "claude-x"
    assert resolve("my-model", provider="groq").provider == "groq"


@pytest.mark.parametrize("model", ["", "openai/", "nosuch/model"])
def test_invalid_model_strings(model: str) -> None:
    with pytest.raises(LMConfigurationError):
        resolve(model)


def test_unknown_explicit_provider() -> None:
    with pytest.raises(LMConfigurationError):
        resolve("m", provider="nosuch")


def test_key_from_argument_or_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "env-key")
    client = build_client(resolve("anthropic/c"), api_key=None, api_base=None, timeout=5)
    assert client.endpoint.api_key is not None and client.endpoint.api_key.reveal() == "env-key"
    client = build_client(resolve("anthropic/c"), api_key="arg-key", api_base=None, timeout=5)
    assert client.endpoint.api_key is not None and client.endpoint.api_key.reveal() == "arg-key"
    assert "arg-key" not in repr(client) and "arg-key" not in repr(client.endpoint)


def test_base_url_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:1/v1")
    assert (
        build_client(resolve("openai/x"), api_key=None, api_base=None, timeout=5).endpoint.api_base
        == "http://127.0.0.1:1/v1"
    )
