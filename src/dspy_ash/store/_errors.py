"""Errors the store raises on purpose, under the engine's one root.

DspyAshError
└── StoreError
    ├── NotFoundError                no such row in the caller's tenant (another tenant's row is "not found" too)
    ├── WrongParentError (ValueError) a row of the caller's tenant, but under another parent than the write's
    ├── ConflictError                a unique name or a concurrent change got there first
    ├── IllegalTransitionError       a run asked to move along an edge its state machine does not have
    ├── SchemaOutOfDateError         the database is behind (or ahead of) this code's migrations
    ├── SecretKeyMissingError        a provider secret to encrypt or decrypt, but no DSPY_ASH_SECRET_KEY
    ├── EnvNotAllowedError (ValueError) a provider names an environment variable outside the allow-list
    ├── InvalidCursorError (ValueError) a page cursor that was not made by the store
    ├── InvalidSpecError (ValueError) a declarative program spec that does not validate
    └── InvalidValueError (ValueError) a value a repository refuses (an email, a short password, a metric's
                                     config), naming the field
"""

from __future__ import annotations

from uuid import UUID

from dspy_ash.errors import DspyAshError


class StoreError(DspyAshError):
    """Root of the store's errors."""


class NotFoundError(StoreError, LookupError):
    def __init__(self, resource: str, ident: UUID | str) -> None:
        super().__init__(f"{resource} {ident} not found")
        self.resource = resource
        self.ident = ident


class WrongParentError(StoreError, ValueError):
    """Two ids of one write that disagree: the row `ident` is under `parent` `actual`, the write said `expected`
    (an evaluation run of program A naming a version of program B, say)."""

    def __init__(
        self, resource: str, ident: UUID, *, parent: str, actual: UUID | None, expected: UUID
    ) -> None:
        super().__init__(f"{resource} {ident} belongs to {parent} {actual}, not {expected}")
        self.resource = resource
        self.ident = ident
        self.parent = parent
        self.actual = actual
        self.expected = expected


class ConflictError(StoreError):
    def __init__(self, message: str, *, resource: str | None = None) -> None:
        super().__init__(message)
        self.resource = resource


class IllegalTransitionError(StoreError):
    def __init__(self, run_id: UUID, current: str, requested: str) -> None:
        super().__init__(f"run {run_id} cannot go from {current!r} to {requested!r}")
        self.run_id = run_id
        self.current = current
        self.requested = requested


class SchemaOutOfDateError(StoreError):
    def __init__(self, *, current: str | None, expected: str) -> None:
        super().__init__(
            f"database schema is at {current or 'nothing'}, this dspy-ash needs {expected}; "
            "run `dspy-ash migrate` (with the same --database-url)"
        )
        self.current = current
        self.expected = expected


class SecretKeyMissingError(StoreError):
    pass


class EnvNotAllowedError(StoreError, ValueError):
    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name


class InvalidCursorError(StoreError, ValueError):
    pass


class InvalidSpecError(StoreError, ValueError):
    def __init__(self, message: str, *, location: str | None = None) -> None:
        super().__init__(f"{location}: {message}" if location else message)
        self.location = location


class InvalidValueError(StoreError, ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
