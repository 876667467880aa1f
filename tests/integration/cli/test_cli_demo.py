"""`dspy-ash demo`'s choice of LM: a configured model becomes the tenant's provider (its key read from the
provider's usual variable), a model it cannot place or a missing key is one clear line, none is the stand-in."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from dspy_ash.cli import app
from dspy_ash.cli._demo import choose_lm  # pyright: ignore[reportPrivateUsage]
from dspy_ash.errors import ConfigurationError


def test_configured_models_become_providers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-x")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-y")
    assert choose_lm(None, None, None) is None
    openai = choose_lm("openai/gpt-4o-mini", None, None)
    assert openai is not None and not openai.stand_in
    assert openai.provider == {"name": "openai", "kind": "openai", "config": {"model": "gpt-4o-mini"},
                               "api_key_env": "OPENAI_API_KEY"}  # fmt: skip
    anthropic = choose_lm("anthropic/claude-3-5-haiku-latest", None, None)
    assert anthropic is not None and anthropic.provider["api_key_env"] == "ANTHROPIC_API_KEY"
    monkeypatch.setenv("OLLAMA_HOST", "http://127.0.0.1:11434")
    ollama = choose_lm("ollama/llama3.2", None, None)
    assert ollama is not None and ollama.provider["base_url"] == "http://127.0.0.1:11434"
    assert "api_key_env" not in ollama.provider
    local = choose_lm("qwen2.5", "http://127.0.0.1:8000/v1", None)
    assert local is not None and local.provider["kind"] == "openai_compatible"
    assert local.provider["config"] == {"model": "qwen2.5"} and "api_key_env" not in local.provider


def test_models_it_cannot_use(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COHERE_API_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="COHERE_API_KEY"):
        choose_lm("cohere/command-r", None, None)
    with pytest.raises(ConfigurationError, match="cannot tell the provider"):
        choose_lm("gpt-4o-mini", None, None)
    monkeypatch.setenv("DSPY_ASH_DEMO_MODEL", "mystery")
    result = CliRunner().invoke(app, ["demo", "--port", "0"])
    assert result.exit_code == 1 and "cannot tell the provider of 'mystery'" in result.output
    assert "Traceback" not in result.output
