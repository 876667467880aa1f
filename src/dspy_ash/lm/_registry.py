"""Model string -> provider client: ONE table keyed by the `provider/` prefix.

Adding an OpenAI-compatible provider is one line here; a new wire format is one file under
`providers/` plus one line here.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from dspy_ash.errors import LMConfigurationError
from dspy_ash.lm._secret import RedactedHeaders, Secret
from dspy_ash.lm.providers._base import Endpoint, HTTPProviderLM
from dspy_ash.settings import env

_OPENAI = "dspy_ash.lm.providers._openai_compat:OpenAICompatLM"
_ANTHROPIC = "dspy_ash.lm.providers._anthropic:AnthropicLM"
_OLLAMA = "dspy_ash.lm.providers._ollama:OllamaChatLM"
_COHERE = "dspy_ash.lm.providers._cohere:CohereLM"


@dataclass(frozen=True, slots=True)
class ProviderSpec:
    client: str  # "module:Class", imported on first use
    api_base: str | None  # None: the caller must give one (api_base= or the base env var)
    key_env: str | None = None
    base_env: str | None = None
    openai_family: bool = False  # OpenAI's own models (reasoning-model rules apply)


PROVIDERS: dict[str, ProviderSpec] = {
    "openai": ProviderSpec(_OPENAI, "https://api.openai.com/v1", "OPENAI_API_KEY", "OPENAI_BASE_URL", True),
    "anthropic": ProviderSpec(
        _ANTHROPIC, "https://api.anthropic.com/v1", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL"
    ),
    "cohere": ProviderSpec(_COHERE, "https://api.cohere.com", "COHERE_API_KEY", "COHERE_API_BASE"),
    "ollama_chat": ProviderSpec(_OLLAMA, "http://localhost:11434", "OLLAMA_API_KEY", "OLLAMA_API_BASE"),
    "ollama": ProviderSpec(_OLLAMA, "http://localhost:11434", "OLLAMA_API_KEY", "OLLAMA_API_BASE"),
    # OpenAI-compatible servers: same wire code, another address and key.
    "together_ai": ProviderSpec(_OPENAI, "https://api.together.xyz/v1", "TOGETHER_API_KEY"),
    "groq": ProviderSpec(_OPENAI, "https://api.groq.com/openai/v1", "GROQ_API_KEY"),
    "openrouter": ProviderSpec(_OPENAI, "https://openrouter.ai/api/v1", "OPENROUTER_API_KEY"),
    "deepseek": ProviderSpec(_OPENAI, "https://api.deepseek.com/v1", "DEEPSEEK_API_KEY"),
    "mistral": ProviderSpec(_OPENAI, "https://api.mistral.ai/v1", "MISTRAL_API_KEY"),
    "fireworks_ai": ProviderSpec(_OPENAI, "https://api.fireworks.ai/inference/v1", "FIREWORKS_API_KEY"),
    "xai": ProviderSpec(_OPENAI, "https://api.x.ai/v1", "XAI_API_KEY"),
    "perplexity": ProviderSpec(_OPENAI, "https://api.perplexity.ai", "PERPLEXITYAI_API_KEY"),
    "vllm": ProviderSpec(_OPENAI, "http://localhost:8000/v1", "HOSTED_VLLM_API_KEY", "HOSTED_VLLM_API_BASE"),
    "hosted_vllm": ProviderSpec(
        _OPENAI, "http://localhost:8000/v1", "HOSTED_VLLM_API_KEY", "HOSTED_VLLM_API_BASE"
    ),
    "llama_cpp": ProviderSpec(_OPENAI, "http://localhost:8080/v1", "LLAMA_CPP_API_KEY", "LLAMA_CPP_API_BASE"),
    "lm_studio": ProviderSpec(_OPENAI, "http://localhost:1234/v1", "LM_STUDIO_API_KEY", "LM_STUDIO_API_BASE"),
    "openai_compatible": ProviderSpec(_OPENAI, None),
}


@dataclass(frozen=True, slots=True)
class Resolved:
    provider: str
    model: str  # the provider's own model name
    spec: ProviderSpec


def resolve(model: str, provider: str | None = None, api_base: str | None = None) -> Resolved:
    """Which provider serves `model`. An unknown prefix with an explicit `api_base` is taken to be an
    OpenAI-compatible server whose model names contain a slash (`meta-llama/Llama-3-8B`)."""
    if not model or model.endswith("/"):
        raise LMConfigurationError(f"Invalid model string {model!r}: expected 'provider/model'")
    if provider is not None:
        if provider not in PROVIDERS:
            raise LMConfigurationError(
                f"Unknown provider {provider!r}; known: {', '.join(sorted(PROVIDERS))}"
            )
        prefix, _, rest = model.partition("/")
        name = rest if prefix == provider and rest else model
        return Resolved(provider, name, PROVIDERS[provider])
    prefix, slash, rest = model.partition("/")
    if slash and prefix in PROVIDERS:
        return Resolved(prefix, rest, PROVIDERS[prefix])
    if not slash or api_base is not None:
        return Resolved("openai", model, PROVIDERS["openai"] if not slash else PROVIDERS["openai_compatible"])
    raise LMConfigurationError(
        f"Unknown provider {prefix!r} in {model!r}; known: {', '.join(sorted(PROVIDERS))} "
        "(or pass api_base= for any OpenAI-compatible server)"
    )


def build_client(
    resolved: Resolved,
    *,
    api_key: str | None,
    api_base: str | None,
    timeout: float | None,
    headers: dict[str, str] | None = None,
) -> HTTPProviderLM:
    spec = resolved.spec
    base = api_base or (env(spec.base_env) if spec.base_env else None) or spec.api_base
    if base is None:
        raise LMConfigurationError(f"{resolved.provider!r} needs api_base=")
    key = api_key if api_key is not None else (env(spec.key_env) if spec.key_env else None)
    endpoint = Endpoint(
        provider=resolved.provider,
        api_base=base,
        api_key=Secret(key) if key else None,
        timeout=timeout,
        headers=RedactedHeaders(headers or {}),
    )
    module_name, _, class_name = spec.client.partition(":")
    client_cls: type[HTTPProviderLM] = getattr(importlib.import_module(module_name), class_name)
    return client_cls(resolved.model, endpoint)
