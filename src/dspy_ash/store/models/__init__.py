"""The tables, as SQLAlchemy 2.0 typed models. Alembic (store/migrations) owns the schema."""

from dspy_ash.store.models.base import Base, TenantOwned
from dspy_ash.store.models.datasets import Dataset, Example
from dspy_ash.store.models.programs import Module, Program, ProgramVersion, Signature
from dspy_ash.store.models.runs import RUN_STATUSES, EvaluationResult, EvaluationRun, OptimizerRun, RunColumns
from dspy_ash.store.models.telemetry import LMCacheEntry, LMRequestLog, Trace, TraceSpan
from dspy_ash.store.models.tenancy import ROLES, ApiKey, AuditEvent, LMProvider, Tenant

__all__ = [
    "ROLES",
    "RUN_STATUSES",
    "ApiKey",
    "AuditEvent",
    "Base",
    "Dataset",
    "EvaluationResult",
    "EvaluationRun",
    "Example",
    "LMCacheEntry",
    "LMProvider",
    "LMRequestLog",
    "Module",
    "OptimizerRun",
    "Program",
    "ProgramVersion",
    "RunColumns",
    "Signature",
    "Tenant",
    "TenantOwned",
    "Trace",
    "TraceSpan",
]
