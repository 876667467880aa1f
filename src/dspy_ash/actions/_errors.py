"""What an action refuses, beyond the store's own errors (NotFoundError, ConflictError, ...).

    ActionError
    ├── UnauthenticatedError          no valid credentials came with the call
    ├── PermissionDeniedError         the caller's role lacks the action's scope
    ├── CsrfError                     a session-cookie request that changes something lacks its CSRF token
    ├── InvalidRequestError (also ValueError)  the request does not fit the action's input; lists the fields
    ├── RateLimitedError              the caller's key spent its requests for now; carries retry_after
    ├── BusyError                     a limit on work in flight (a program's executions) is reached
    ├── ActionTimeoutError (also TimeoutError)  the work did not finish in the time allowed
    └── AlreadyInitialisedError       `dspy-ash init --tenant` on a service set up with another tenant

Only `dspy_ash.api` turns these into HTTP responses (RFC 9457 problems).
"""

from __future__ import annotations

from dataclasses import dataclass

from dspy_ash.errors import DspyAshError


class ActionError(DspyAshError):
    """An action that could not run as asked."""


class UnauthenticatedError(ActionError):
    def __init__(self, message: str = "credentials are missing, invalid, expired or revoked") -> None:
        super().__init__(message)


class PermissionDeniedError(ActionError):
    def __init__(self, *, action: str, role: str, scope: str) -> None:
        super().__init__(f"the {role} role may not {action} (needs scope {scope!r})")
        self.action = action
        self.role = role
        self.scope = scope


class CsrfError(ActionError):
    def __init__(self) -> None:
        super().__init__("a request with a session cookie must carry the session's X-CSRF-Token header")


@dataclass(frozen=True, slots=True)
class FieldProblem:
    """One invalid part of a request: where (`body.name`, `query.limit`, ...) and what is wrong."""

    field: str
    message: str


class InvalidRequestError(ActionError, ValueError):
    def __init__(self, message: str, fields: list[FieldProblem] | None = None) -> None:
        super().__init__(message)
        self.fields = fields or []


class RateLimitedError(ActionError):
    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class BusyError(ActionError):
    def __init__(self, message: str, *, retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ActionTimeoutError(ActionError, TimeoutError):
    pass


class AlreadyInitialisedError(ActionError):
    """`init --tenant NAME` on a service whose first tenant has another name."""

    def __init__(self, first: str, asked: str) -> None:
        super().__init__(
            f"the service is initialised already (its first tenant is {first!r}); no tenant is named "
            f"{asked!r}, and init does not create further tenants"
        )
        self.first = first
        self.asked = asked
