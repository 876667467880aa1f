"""Settings: process-wide defaults under a context-local overlay.

`configure(**kw)` sets defaults; `context(**kw)` overrides them for the current thread or asyncio task
only (a `contextvars.ContextVar`), so two concurrent requests with different LMs never mix.
As in DSPy, `configure()` has one owner: the first thread that calls it, and inside asyncio the first
task that calls it there. From any other thread or task it raises `ConfigureOwnershipError` (a
`RuntimeError`, with DSPy's message) instead of changing state a pooled thread would carry into its
next request; `with context(...)` is the way to override settings there. Unknown setting names raise
`UnknownSettingError` (DSPy stores any name; a typo here would otherwise be ignored silently).

This module is the only reader of environment variables in the engine.
"""

from __future__ import annotations

import asyncio
import difflib
import os
import sys
import threading
import weakref
from collections.abc import Generator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from types import MappingProxyType
from typing import Any

from dspy_ash.errors import ConfigureOwnershipError, UnknownSettingError

DEFAULTS: dict[str, Any] = {
    "lm": None,
    "adapter": None,
    "rm": None,
    "trace": None,  # a list while optimizers record predictor calls (context(trace=[]))
    "callbacks": [],
    "num_threads": 8,
    "max_errors": 10,
    "async_max_workers": 8,
    "disable_history": False,
    "track_usage": False,
    "usage_tracker": None,
    "caller_modules": (),
    "max_history_size": 10_000,
    "max_trace_size": 10_000,
    "provide_traceback": False,
    "warn_on_type_mismatch": True,
    "allow_tool_async_sync_conversion": False,
    "send_stream": None,
    "stream_listeners": [],
    "cache_namespace": None,  # isolates cache entries per tenant
    "interpreter_factory": None,
    "strict_inputs": False,  # missing inputs raise instead of warning (DSPy warns)
    "relax_gc": True,  # space out GC collections while many LM calls are in flight (see _gc.py)
    # DSPy defines these two; dspy-ash keeps them so DSPy code that sets or reads them works, and uses neither.
    "branch_idx": 0,
    "caller_predict": None,
}

_THREAD_OWNER_MESSAGE = (
    "dspy.settings can only be changed by the thread that initially configured it. "
    "Use `dspy.context(...)` to change settings in other threads."
)
_TASK_OWNER_MESSAGE = (
    "dspy.configure(...) can only be called from the same async task that called it first. Please "
    "use `dspy.context(...)` in other async tasks instead."
)

_NO_OVERRIDES: Mapping[str, Any] = MappingProxyType({})
_overrides: ContextVar[Mapping[str, Any]] = ContextVar("dspy_ash_settings", default=_NO_OVERRIDES)


class Settings:
    """Attribute and item access to the effective setting: the context's override, else the default."""

    def __init__(self) -> None:
        object.__setattr__(self, "_defaults", dict(DEFAULTS))
        object.__setattr__(self, "_owner_thread", None)
        object.__setattr__(self, "_owner_task", None)  # a weak reference: a finished task is not kept alive
        object.__setattr__(self, "_lock", threading.Lock())

    def __getattr__(self, name: str) -> Any:
        try:
            return read(name)
        except KeyError:
            raise AttributeError(f"no setting named {name!r}") from None

    def __getitem__(self, name: str) -> Any:
        return read(name)

    def __setattr__(self, name: str, value: Any) -> None:
        self.configure(**{name: value})

    def __contains__(self, name: str) -> bool:
        return name in _overrides.get() or name in self._defaults

    def get(self, name: str, default: Any = None) -> Any:
        try:
            return self.__getattr__(name)
        except AttributeError:
            return default

    @property
    def config(self) -> dict[str, Any]:
        return {**self._defaults, **_overrides.get()}

    def copy(self) -> dict[str, Any]:
        return self.config

    def configure(self, **kwargs: Any) -> None:
        """Set process-wide defaults; only the owning thread (and, inside asyncio, task) may call it."""
        _check_names(kwargs)
        with self._lock:
            self._ensure_owner()
            self._defaults.update(kwargs)

    def _ensure_owner(self) -> None:
        # DSPy's rule: the first thread to configure owns the settings. Within that thread, code outside
        # any task may always configure; the first task to configure owns them among tasks (IPython runs
        # each cell in its own task, so there any task may).
        thread = threading.get_ident()
        if self._owner_thread is None:
            object.__setattr__(self, "_owner_thread", thread)
        if self._owner_thread != thread:
            raise ConfigureOwnershipError(_THREAD_OWNER_MESSAGE)
        task = _current_task()
        if task is None:
            return
        if self._owner_task is None:
            object.__setattr__(self, "_owner_task", weakref.ref(task))
            return
        if self._owner_task() is not task and not _in_ipython():
            raise ConfigureOwnershipError(_TASK_OWNER_MESSAGE)

    @contextmanager
    def context(self, **kwargs: Any) -> Generator[None, None, None]:
        """Override settings for this thread or task until the block ends (any thread or task may)."""
        _check_names(kwargs)
        token = _overrides.set({**_overrides.get(), **kwargs})
        try:
            yield
        finally:
            _overrides.reset(token)

    def reset(self) -> None:
        """Back to the built-in defaults (for tests and notebooks)."""
        with self._lock:
            object.__setattr__(self, "_defaults", dict(DEFAULTS))
            object.__setattr__(self, "_owner_thread", None)
            object.__setattr__(self, "_owner_task", None)
        _overrides.set(_NO_OVERRIDES)


def _check_names(kwargs: Mapping[str, Any]) -> None:
    for name in kwargs:
        if name not in DEFAULTS:
            close = difflib.get_close_matches(name, DEFAULTS, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise UnknownSettingError(
                f"Unknown setting {name!r}.{hint} Settings are: {', '.join(sorted(DEFAULTS))}.", name=name
            )


def _current_task() -> asyncio.Task[Any] | None:
    try:
        return asyncio.current_task()
    except RuntimeError:  # no running loop in this thread
        return None


def _in_ipython() -> bool:
    # Looked up, never imported: a process running IPython has already imported it.
    ipython = sys.modules.get("IPython")
    get_ipython = getattr(ipython, "get_ipython", None)
    return callable(get_ipython) and get_ipython() is not None


settings = Settings()
configure = settings.configure
context = settings.context


def read(name: str) -> Any:
    """The effective value of one setting; what hot paths call instead of `settings.<name>`."""
    overrides = _overrides.get()
    if name in overrides:
        return overrides[name]
    return settings._defaults[name]


def env(name: str, default: str | None = None) -> str | None:
    """Read one environment variable (the engine reads none anywhere else)."""
    return os.environ.get(name, default)


def sandbox_requires_isolation() -> bool:
    """DSPY_ASH_SANDBOX_REQUIRE_ISOLATION=1: PythonInterpreter refuses to run without full isolation."""
    return (env("DSPY_ASH_SANDBOX_REQUIRE_ISOLATION") or "").strip().lower() in ("1", "true", "yes", "on")


def data_dir() -> Path:
    """Where dspy-ash keeps its files by default: DSPY_ASH_HOME, else the user's data directory."""
    explicit = env("DSPY_ASH_HOME")
    if explicit:
        return Path(explicit)
    base = env("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "dspy-ash"


PROVIDER_ENV_ALLOW = "DSPY_ASH_PROVIDER_ENV_ALLOW"
# The key variables of the providers dspy-ash knows (lm/registry.py), and a prefix an operator can
# put further keys under. The store refuses the project's own DSPY_ASH_* variables whatever this says.
DEFAULT_PROVIDER_ENV_ALLOW: tuple[str, ...] = (
    "ANTHROPIC_API_KEY",
    "COHERE_API_KEY",
    "DEEPSEEK_API_KEY",
    "FIREWORKS_API_KEY",
    "GEMINI_API_KEY",
    "GROQ_API_KEY",
    "HOSTED_VLLM_API_KEY",
    "LLAMA_CPP_API_KEY",
    "LM_STUDIO_API_KEY",
    "MISTRAL_API_KEY",
    "OLLAMA_API_KEY",
    "OPENAI_API_KEY",
    "OPENROUTER_API_KEY",
    "PERPLEXITYAI_API_KEY",
    "TOGETHER_API_KEY",
    "XAI_API_KEY",
    "DSPY_ASH_PROVIDER_KEY_*",
)


def provider_env_allow() -> tuple[str, ...]:
    """Which environment variables a stored LM provider may name as its key: DSPY_ASH_PROVIDER_ENV_ALLOW
    (comma-separated; `NAME`, or `PREFIX*`; set but empty allows none), else DEFAULT_PROVIDER_ENV_ALLOW."""
    raw = env(PROVIDER_ENV_ALLOW)
    if raw is None:
        return DEFAULT_PROVIDER_ENV_ALLOW
    return tuple(entry.strip() for entry in raw.split(",") if entry.strip())
