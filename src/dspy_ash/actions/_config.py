"""The service's configuration, read once: arguments first, else `DSPY_ASH_*` environment variables."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    """Typed and frozen: `ServiceSettings(max_body_bytes=...)` in code, `DSPY_ASH_MAX_BODY_BYTES` outside."""

    model_config = SettingsConfigDict(env_prefix="DSPY_ASH_", frozen=True, extra="ignore")

    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default: SQLite in the data directory"
    )
    max_body_bytes: int = Field(
        default=1 << 20, gt=0, description="largest request body accepted (413 above)"
    )
    default_page_size: int = Field(default=50, gt=0)
    max_page_size: int = Field(default=200, gt=0)
    rate_limit_per_minute: int = Field(
        default=600, gt=0, description="per API key, unless the key sets its own"
    )
    execute_timeout: float = Field(
        default=120.0, gt=0, description="seconds an execution may take (504 after)"
    )
    program_concurrency: int = Field(
        default=64, gt=0, description="executions in flight per program (429 above)"
    )
    run_slots: int = Field(
        default=2,
        ge=0,
        description="optimizer and evaluation runs the server itself works on at once (its in-process "
        "worker); 0: none, leave them to `dspy-ash worker` processes",
    )
    run_lease_seconds: float = Field(
        default=30.0,
        ge=3.0,
        description="how long a worker's claim on a run holds unless renewed; a dead worker's runs are "
        "taken up again after it",
    )
    run_stream_poll_seconds: float = Field(
        default=0.5, gt=0, description="how often a run's event stream looks at the run for changes"
    )
    run_stream_seconds: float = Field(
        default=3600.0, gt=0, description="how long a run's event stream stays open (the client reconnects)"
    )
    program_modules: tuple[str, ...] = Field(
        default=(),
        description="modules (and their submodules) that code programs may be imported from; "
        "none by default, so only declarative programs execute until the operator names its own",
    )
    corpus: str | None = Field(
        default=None,
        description="the passages `retrieve` steps search, with BM25: `hotpotqa` (the sample shipped with "
        "dspy-ash), or the path of a file with one passage a line (.txt) or a JSON object with `text` a "
        "line (.jsonl); none: a program with a retrieve step fails with a clear error",
    )
    answer_program: str = Field(
        default="simplified-baleen",
        min_length=1,
        description="the program `POST /answer` asks, by name, in the caller's tenant",
    )
    stand_in_notice: str | None = Field(
        default=None,
        description="set (by `dspy-ash demo`) when the tenant's LM is an offline stand-in, not a real LM: "
        "every response then carries it in the `X-LM-Stand-In` header, and the log and pages say so",
    )
    session_ttl_hours: float = Field(default=12.0, gt=0)
    secure_cookies: bool = Field(default=True, description="mark session cookies Secure (HTTPS only)")
    metrics_token: SecretStr | None = Field(
        default=None,
        description="if set, /metrics requires `Authorization: Bearer <token>` (Prometheus: `authorization`)",
    )
    otel_export: bool = Field(
        default=False,
        description="export the engine's calls as OpenTelemetry spans over OTLP (extra `otel`; the "
        "exporter reads the standard OTEL_* variables)",
    )
