"""dspy_ash.actions: every operation of the service, declared once, with its policy and typed models.

    services = Services(db=await connect())
    actor = await authenticate_key(services, "dak_...")
    program = await invoke(services, "programs.create", actor, {"name": "qa", "source": "app.qa:QA"})

REST (`dspy_ash.api`), GraphQL, the CLI and jobs call actions only through `invoke`; nothing outside
this package queries the store. `REGISTRY` lists every action; `SCOPES` says which roles hold which scope.
Outside the registry, for operations: `initialise` (`dspy-ash init`), `readiness` and `run_counts` (/readyz,
/metrics), and the event subscribers `EngineMetrics` (Prometheus) and `OTelExporter` (OpenTelemetry).
"""

from dspy_ash.actions import (
    _answer,
    _batches,
    _cache,
    _datasets,
    _members,
    _metric_definitions,
    _modules,
    _optimizer_configs,
    _programs,
    _providers,
    _runs,
    _serving,
    _signatures,
    _stats,
    _telemetry,
    _tenancy,
    _versions,
)
from dspy_ash.actions._auth import authenticate_key, authenticate_session
from dspy_ash.actions._bootstrap import Initialised, initialise
from dspy_ash.actions._config import ServiceSettings
from dspy_ash.actions._context import ActionContext, Actor, Services
from dspy_ash.actions._engine_metrics import EngineMetrics
from dspy_ash.actions._errors import (
    ActionError,
    ActionTimeoutError,
    AlreadyInitialisedError,
    BusyError,
    CsrfError,
    FieldProblem,
    InvalidRequestError,
    PermissionDeniedError,
    RateLimitedError,
    UnauthenticatedError,
)
from dspy_ash.actions._invoke import authorize, invalid_request, invoke, lookup
from dspy_ash.actions._ops import RunCounts, readiness, run_counts
from dspy_ash.actions._otel import OTelExporter
from dspy_ash.actions._policy import ROLES, SCOPES, allows
from dspy_ash.actions._registry import REGISTRY, Action, Http, Kind, action
from dspy_ash.actions._schemas import ListRequest, Page, Public, Request
from dspy_ash.actions._tracing import recorder_of, start_serving, stop_serving

# Importing these modules declares their actions in REGISTRY.
_DECLARING = (
    _answer,
    _batches,
    _cache,
    _datasets,
    _members,
    _metric_definitions,
    _modules,
    _optimizer_configs,
    _programs,
    _providers,
    _runs,
    _serving,
    _signatures,
    _stats,
    _telemetry,
    _tenancy,
    _versions,
)

__all__ = [
    "REGISTRY",
    "ROLES",
    "SCOPES",
    "Action",
    "ActionContext",
    "ActionError",
    "ActionTimeoutError",
    "Actor",
    "AlreadyInitialisedError",
    "BusyError",
    "CsrfError",
    "EngineMetrics",
    "FieldProblem",
    "Http",
    "Initialised",
    "InvalidRequestError",
    "Kind",
    "ListRequest",
    "OTelExporter",
    "Page",
    "PermissionDeniedError",
    "Public",
    "RateLimitedError",
    "Request",
    "RunCounts",
    "ServiceSettings",
    "Services",
    "UnauthenticatedError",
    "action",
    "allows",
    "authenticate_key",
    "authenticate_session",
    "authorize",
    "initialise",
    "invalid_request",
    "invoke",
    "lookup",
    "readiness",
    "recorder_of",
    "run_counts",
    "start_serving",
    "stop_serving",
]
