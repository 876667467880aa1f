"""dspy-ash's errors as GraphQL errors: the class is looked up in REST's problem table (api/_problems.py),
and its HTTP status names the GraphQL `extensions.code`, so both APIs classify an error the same way.

    {"message": "...", "path": ["program"],
     "extensions": {"code": "NOT_FOUND", "type": "urn:dspy-ash:problem:not-found", "status": 404}}
"""

from __future__ import annotations

import logging

from graphql import GraphQLError, GraphQLSyntaxError
from strawberry.extensions import MaskErrors

from dspy_ash.actions import InvalidRequestError
from dspy_ash.api._problems import PROBLEMS, TYPE_PREFIX
from dspy_ash.errors import DspyAshError

logger = logging.getLogger("dspy_ash.api.graphql")

# HTTP status (from the problem table) -> the GraphQL code clients switch on
CODES: dict[int, str] = {
    400: "BAD_USER_INPUT",
    401: "UNAUTHENTICATED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    409: "CONFLICT",
    422: "BAD_USER_INPUT",
    429: "RATE_LIMITED",
    502: "BAD_GATEWAY",
    504: "TIMEOUT",
}


def graphql_error(exc: DspyAshError) -> GraphQLError:
    """`exc` with its code, problem type and status; an invalid request lists its fields."""
    for cls, status, slug, _title in PROBLEMS:
        if isinstance(exc, cls):
            extensions: dict[str, object] = {
                "code": CODES.get(status, "INTERNAL_SERVER_ERROR"),
                "type": TYPE_PREFIX + slug,
                "status": status,
            }
            if isinstance(exc, InvalidRequestError):
                extensions["fields"] = [{"field": f.field, "message": f.message} for f in exc.fields]
            retry_after = getattr(exc, "retry_after", None)
            if isinstance(retry_after, int | float):
                extensions["retryAfter"] = retry_after
            return GraphQLError(str(exc), extensions=extensions, original_error=exc)
    return _internal(exc)


def _internal(exc: Exception) -> GraphQLError:
    return GraphQLError(
        "the server failed; see its log",
        extensions={"code": "INTERNAL_SERVER_ERROR", "type": TYPE_PREFIX + "internal", "status": 500},
        original_error=exc,
    )


def unexpected(error: GraphQLError) -> bool:
    """An error from a resolver that is not one of ours (a bug): its message may say too much."""
    original = error.original_error
    while isinstance(original, GraphQLError) and original.original_error is not None:
        original = original.original_error
    return original is not None and not isinstance(original, GraphQLError | DspyAshError)


class ServiceErrors(MaskErrors):
    """Replace a bug's message by a generic one (the schema logs the error itself), and give a refused
    document's errors a code too: GRAPHQL_PARSE_FAILED (syntax, too many tokens) or
    GRAPHQL_VALIDATION_FAILED (unknown fields, too deep, too many aliases, fragment cycles)."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=unexpected, error_message="the server failed; see its log")

    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        for error in errors:
            if error.path is None and "code" not in (error.extensions or {}):
                parse = isinstance(error, GraphQLSyntaxError) or error.message.startswith("Syntax Error")
                code = "GRAPHQL_PARSE_FAILED" if parse else "GRAPHQL_VALIDATION_FAILED"
                error.extensions = {**(error.extensions or {}), "code": code}
        return super()._process_errors(errors)
