"""The tables, as SQLAlchemy 2.0 typed models. Alembic (store/migrations) owns the schema.

A table whose domain name is also an engine class (`signature`, `module`, `example`,
`evaluation_result`) has a `Row` class (`SignatureRow`, ...), so code that uses both cannot mix them up.
"""

from dspy_ash.store.models._base import Base, TenantOwned
from dspy_ash.store.models._datasets import Dataset, ExampleRow
from dspy_ash.store.models._programs import ModuleRow, Program, ProgramVersion, SignatureRow
from dspy_ash.store.models._runs import (
    RUN_STATUSES,
    EvaluationResultRow,
    EvaluationRun,
    OptimizerRun,
    RunColumns,
)
from dspy_ash.store.models._service import METRIC_KINDS, IdempotencyRecord, MetricDefinition, OptimizerConfig
from dspy_ash.store.models._telemetry import LMCacheEntry, LMRequestLog, Trace, TraceSpan
from dspy_ash.store.models._tenancy import ROLES, ApiKey, AuditEvent, LMProvider, Tenant
from dspy_ash.store.models._users import Membership, UserAccount, UserSession

__all__ = [
    "METRIC_KINDS",
    "ROLES",
    "RUN_STATUSES",
    "ApiKey",
    "AuditEvent",
    "Base",
    "Dataset",
    "EvaluationResultRow",
    "EvaluationRun",
    "ExampleRow",
    "IdempotencyRecord",
    "LMCacheEntry",
    "LMProvider",
    "LMRequestLog",
    "Membership",
    "MetricDefinition",
    "ModuleRow",
    "OptimizerConfig",
    "OptimizerRun",
    "Program",
    "ProgramVersion",
    "RunColumns",
    "SignatureRow",
    "Tenant",
    "TenantOwned",
    "Trace",
    "TraceSpan",
    "UserAccount",
    "UserSession",
]
