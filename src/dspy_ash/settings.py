"""Settings: process-wide defaults under a context-local overlay.

The defaults are one frozen, typed `Config`; `configure(**kw)` replaces it with a changed copy, and
`context(**kw)` layers an immutable overlay of overrides for the current thread or asyncio task only (a
`contextvars.ContextVar`), so two concurrent requests with different LMs never mix. Readers see the
context's override, else the default: `settings.lm`, `settings["lm"]`, `settings.get("lm")`,
`settings.config` (a dict), and `read("lm")` on hot paths.
As in DSPy, `configure()` has one owner: the first thread that calls it, and inside asyncio the first
task that calls it there. From any other thread or task it raises `ConfigureOwnershipError` (a
`RuntimeError`, with DSPy's message) instead of changing state a pooled thread would carry into its
next request; `with context(...)` is the way to override settings there. Unknown setting names raise
`UnknownSettingError` (DSPy stores any name; a typo here would otherwise be ignored silently).
`settings.save(path)` writes the effective settings to a JSON file and `load_settings(path)` reads them
back as a dict to pass to `configure(**...)` (DSPy's names; DSPy writes a cloudpickle, see `save`).

This module is the only reader of environment variables in the engine.
"""

from __future__ import annotations

import asyncio
import dataclasses
import difflib
import json
import os
import sys
import threading
import weakref
from collections.abc import Callable, Generator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from dspy_ash.errors import ConfigureOwnershipError, SavedStateError, UnknownSettingError


def env(name: str, default: str | None = None) -> str | None:
    """Read one environment variable (the engine reads none anywhere else)."""
    return os.environ.get(name, default)


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


# Values of classes from layers above this module (settings may import only errors and the like); the
# names say what is stored.
LMValue = Any  # a dspy_ash.lm._base.BaseLM (or any object with DSPy's LM interface)
AdapterValue = Any  # a dspy_ash.adapters.Adapter
CallbackValue = Any  # a dspy_ash.events.BaseCallback


GC_PACING_ENV = "DSPY_ASH_GC_PACING"


def _gc_pacing_from_env() -> bool:
    return _flag(env(GC_PACING_ENV))


@dataclass(frozen=True, slots=True)
class Config:
    """Every setting with its type and default. Frozen: changing settings makes a replaced copy."""

    lm: LMValue | None = None
    adapter: AdapterValue | None = None
    rm: Callable[..., Any] | None = None
    trace: list[Any] | None = None  # a list while optimizers record predictor calls (context(trace=[]))
    callbacks: list[CallbackValue] = field(default_factory=list[CallbackValue])
    num_threads: int = 8
    max_errors: int | None = 10
    async_max_workers: int = 8
    disable_history: bool = False
    track_usage: bool = False
    usage_tracker: Any = None  # a dspy_ash.lm._usage.UsageTracker
    caller_modules: tuple[Any, ...] = ()
    max_history_size: int = 10_000
    max_trace_size: int = 10_000
    provide_traceback: bool = False
    warn_on_type_mismatch: bool = True
    allow_tool_async_sync_conversion: bool = False
    send_stream: Any = None  # an anyio/asyncio send stream while streamify() runs
    stream_listeners: list[Any] = field(default_factory=list[Any])
    cache_namespace: str | None = None  # isolates cache entries per tenant
    interpreter_factory: Callable[[], Any] | None = None
    strict_inputs: bool = False  # missing inputs raise instead of warning (DSPy warns)
    # Space out GC collections while many LM calls are in flight (see _gc.py). Off for a library: it
    # changes the whole process's GC thresholds. Servers turn it on: enable_gc_pacing() or DSPY_ASH_GC_PACING=1.
    # (Its default is read from the environment each time a Config is built from scratch.)
    relax_gc: bool = field(default_factory=_gc_pacing_from_env)
    # DSPy defines these two; dspy-ash keeps them so DSPy code that sets or reads them works, and uses neither.
    branch_idx: int = 0
    caller_predict: Any = None


SETTING_NAMES: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(Config))
_NAME_SET = frozenset(SETTING_NAMES)


def defaults() -> dict[str, Any]:
    """The built-in default of every setting, as a fresh dict."""
    return _as_dict(Config())


def _as_dict(config: Config) -> dict[str, Any]:
    return {name: getattr(config, name) for name in SETTING_NAMES}  # shallow: values are shared, as in DSPy


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
_current: Config = Config()  # the process-wide defaults; replaced, never mutated
# The same values as a dict, rebuilt whenever `_current` is replaced: a dict lookup is the cheapest read
# on the hot path (every Predict call reads `lm`).
_current_values: dict[str, Any] = _as_dict(_current)


def _publish(config: Config) -> None:
    global _current, _current_values
    _current, _current_values = config, _as_dict(config)


def read(name: str) -> Any:
    """The effective value of one setting; what hot paths call instead of `settings.<name>`."""
    overrides = _overrides.get()
    if name in overrides:
        return overrides[name]
    return _current_values[name]


class Settings:
    """Attribute and item access to the effective setting: the context's override, else the default.
    Each setting is a property (generated from `Config` below), so `settings.lm` is a direct read."""

    __slots__ = ("__weakref__", "_lock", "_owner_task", "_owner_thread")
    _lock: threading.Lock
    _owner_thread: int | None
    _owner_task: weakref.ref[asyncio.Task[Any]] | None

    def __init__(self) -> None:
        object.__setattr__(self, "_owner_thread", None)
        object.__setattr__(self, "_owner_task", None)  # a weak reference: a finished task is not kept alive
        object.__setattr__(self, "_lock", threading.Lock())

    @property
    def values(self) -> Config:
        """The process-wide defaults (not the context's overrides), as the frozen typed model."""
        return _current

    def __getattr__(self, name: str) -> Any:  # reached only for names that are not settings
        raise AttributeError(f"no setting named {name!r}")

    def __getitem__(self, name: str) -> Any:
        return read(name)

    def __setattr__(self, name: str, value: Any) -> None:
        self.configure(**{name: value})

    def __contains__(self, name: str) -> bool:
        return name in _overrides.get() or name in _NAME_SET

    def get(self, name: str, default: Any = None) -> Any:
        if name not in self:
            return default
        return read(name)

    @property
    def config(self) -> dict[str, Any]:
        return {**_current_values, **_overrides.get()}

    def copy(self) -> dict[str, Any]:
        return self.config

    def __repr__(self) -> str:
        return repr(self.config)

    def configure(self, **kwargs: Any) -> None:
        """Set process-wide defaults; only the owning thread (and, inside asyncio, task) may call it."""
        _check_names(kwargs)
        with self._lock:
            self._ensure_owner()
            _publish(dataclasses.replace(_current, **kwargs))

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
        # a plain dict, never mutated after this line (reads on the hot path are cheapest on a dict)
        token = _overrides.set({**_overrides.get(), **kwargs})
        try:
            yield
        finally:
            _overrides.reset(token)

    def save(
        self,
        path: str | os.PathLike[str],
        modules_to_serialize: list[Any] | None = None,
        exclude_keys: list[str] | None = None,
    ) -> None:
        """Write the effective settings (this context's overrides included, as in DSPy) to `path` as JSON.

        DSPy writes them with cloudpickle, which can carry any object and runs code when loaded; dspy-ash
        never pickles, so it writes only settings whose values are JSON (numbers, strings, flags, lists).
        A setting holding an object (an LM, adapter, retriever, callback, ...) raises `SavedStateError`
        naming it: leave it out with `exclude_keys` and configure it again after loading. The file is
        replaced whole or not at all. `modules_to_serialize` (cloudpickle's by-value modules) means
        nothing here and is accepted for compatibility.
        """
        excluded = list(exclude_keys or [])
        _check_names(dict.fromkeys(excluded))
        values = {name: value for name, value in self.config.items() if name not in excluded}
        needs_pickle = sorted(name for name, value in values.items() if not _is_json(value))
        if needs_pickle:
            kinds = ", ".join(f"{name} ({type(values[name]).__name__})" for name in needs_pickle)
            raise SavedStateError(
                f"settings.save() writes JSON and these settings hold objects only a pickle could store: {kinds}. "
                f"dspy-ash never pickles (DSPy uses cloudpickle here); pass exclude_keys={needs_pickle!r} "
                "and configure them again after loading."
            )
        document = {"format": SETTINGS_FILE_FORMAT, "version": SETTINGS_FILE_VERSION, "settings": values}
        target = Path(path)
        partial = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        try:
            partial.write_text(json.dumps(document, indent=2), encoding="utf-8")
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)

    @staticmethod
    def load(path: str | os.PathLike[str], allow_pickle: bool = False) -> dict[str, Any]:
        """The settings `save` wrote to `path`, as a dict: `configure(**load_settings(path))` applies them
        (under the usual ownership rule; loading changes nothing by itself, as in DSPy).

        A cloudpickle written by DSPy's `settings.save` raises `SavedStateError`, with `allow_pickle` or
        without: dspy-ash never unpickles. `allow_pickle` is accepted for compatibility; JSON needs no
        permission.
        """
        raw = Path(path).read_bytes()
        if raw[:1] == b"\x80":  # the first byte of every pickle of protocol 2 or later
            raise SavedStateError(
                f"{os.fspath(path)} is a pickle (DSPy's settings.save writes cloudpickle). dspy-ash never "
                "unpickles, with allow_pickle or without; configure those settings in code, or save them "
                "again with dspy-ash's settings.save, which writes JSON."
            )
        try:
            document = json.loads(raw)
        except ValueError as exc:
            raise SavedStateError(f"{os.fspath(path)} is not a settings file (not JSON: {exc})") from exc
        if not isinstance(document, dict) or document.get("format") != SETTINGS_FILE_FORMAT:  # pyright: ignore[reportUnknownMemberType]
            raise SavedStateError(f"{os.fspath(path)} is not a settings file written by settings.save()")
        if document.get("version") != SETTINGS_FILE_VERSION or not isinstance(document.get("settings"), dict):  # pyright: ignore[reportUnknownMemberType]
            raise SavedStateError(
                f"{os.fspath(path)} is a settings file of an unknown version {document.get('version')!r}"  # pyright: ignore[reportUnknownMemberType]
            )
        loaded: dict[str, Any] = document["settings"]
        _check_names(loaded)
        # JSON has no tuples: give the settings whose type is a tuple theirs back
        return {
            name: tuple(v) if name in _TUPLE_SETTINGS and isinstance(v, list) else v
            for name, v in loaded.items()
        }  # pyright: ignore[reportUnknownArgumentType]

    def reset(self) -> None:
        """Back to the built-in defaults (for tests and notebooks)."""
        with self._lock:
            _publish(Config())
            object.__setattr__(self, "_owner_thread", None)
            object.__setattr__(self, "_owner_task", None)
        _overrides.set(_NO_OVERRIDES)


def _setting_property(name: str) -> property:
    def get(self: Settings) -> Any:
        overrides = _overrides.get()
        if name in overrides:
            return overrides[name]
        return _current_values[name]

    def set_(self: Settings, value: Any) -> None:
        self.configure(**{name: value})

    return property(get, set_, doc=f"The effective `{name}` setting.")


def _install_properties() -> None:
    for name in SETTING_NAMES:
        setattr(Settings, name, _setting_property(name))


_install_properties()


def enable_gc_pacing(enabled: bool = True) -> None:
    """Turn GC pacing (see `dspy_ash._gc`) on or off for the whole process, from any thread: it is a
    process-wide choice a server makes at start-up, not a per-request setting, so the configure()
    ownership rule does not apply. `context(relax_gc=False)` still turns it off for one block."""
    with settings._lock:
        _publish(dataclasses.replace(_current, relax_gc=enabled))


def add_process_callback(callback: CallbackValue) -> None:
    """Subscribe `callback` to every call in the process, from any thread. A server's subscribers
    (metrics, OpenTelemetry export) watch the whole process and are set up wherever its start-up runs
    (uvicorn's lifespan task, a test's server thread), so the configure() ownership rule does not apply.
    Adding one already subscribed changes nothing."""
    with settings._lock:
        if not any(c is callback for c in _current.callbacks):
            _publish(dataclasses.replace(_current, callbacks=[*_current.callbacks, callback]))


def remove_process_callback(callback: CallbackValue) -> None:
    """Undo `add_process_callback` (at shutdown); a callback not subscribed is ignored."""
    with settings._lock:
        kept = [c for c in _current.callbacks if c is not callback]
        if len(kept) != len(_current.callbacks):
            _publish(dataclasses.replace(_current, callbacks=kept))


SETTINGS_FILE_FORMAT = "dspy-ash settings"
SETTINGS_FILE_VERSION = 1
_TUPLE_SETTINGS = frozenset(name for name, value in defaults().items() if isinstance(value, tuple))


def _is_json(value: Any) -> bool:
    """Whether `value` survives a JSON round trip as the same data (tuples come back as lists)."""
    if value is None or isinstance(value, bool | int | float | str):
        return True
    if isinstance(value, list | tuple):
        return all(_is_json(item) for item in value)  # pyright: ignore[reportUnknownVariableType]
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_json(v) for k, v in value.items())  # pyright: ignore[reportUnknownVariableType]
    return False


def _check_names(kwargs: Mapping[str, Any]) -> None:
    for name in kwargs:
        if name not in _NAME_SET:
            close = difflib.get_close_matches(name, SETTING_NAMES, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise UnknownSettingError(
                f"Unknown setting {name!r}.{hint} Settings are: {', '.join(sorted(SETTING_NAMES))}.",
                name=name,
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
load_settings = settings.load


def sandbox_requires_isolation() -> bool:
    """DSPY_ASH_SANDBOX_REQUIRE_ISOLATION=1: PythonInterpreter refuses to run without full isolation."""
    return _flag(env("DSPY_ASH_SANDBOX_REQUIRE_ISOLATION"))


def data_dir() -> Path:
    """Where dspy-ash keeps its files by default: DSPY_ASH_HOME, else the user's data directory."""
    explicit = env("DSPY_ASH_HOME")
    if explicit:
        return Path(explicit)
    base = env("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "dspy-ash"


def cache_dir_override() -> str | None:
    """DSPY_CACHEDIR (DSPy's variable): where the process's LM cache keeps its files, when set."""
    return env("DSPY_CACHEDIR") or None


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
