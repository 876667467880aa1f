"""The exception tree of dspy-ash: every error it raises on purpose is a `DspyAshError`, and also the
built-in exception DSPy raises there, so code written for DSPy (`except ValueError`) keeps working.

    DspyAshError
    ├── SignatureError (also ValueError)        a bad signature; names the field and what is wrong
    │   ├── SignatureSyntaxError (also SyntaxError)  a field list Python cannot read, as DSPy raises
    │   └── SignatureTypeError (also TypeError)      a type DSPy refuses with TypeError (bad subscript, bare field)
    ├── SettingsError                           settings that cannot be changed as asked
    │   ├── ConfigureOwnershipError (also RuntimeError)  configure() from a thread/task that does not own it
    │   └── UnknownSettingError (also TypeError)  a setting (or configure_cache option) name that does not exist
    ├── ConfigurationError (also ValueError)    arguments or options that cannot work (alone or together)
    │   └── NoLMConfiguredError                 an LM is needed and none is configured or given
    ├── InvalidInputError (also ValueError)     a call's inputs that cannot be used as given
    │   └── InvalidInputTypeError (also TypeError)  ... because of their type
    │       └── UnencodableValueError           a value `Cache.put` has no JSON form for (lm/cache_values.py)
    ├── DatasetError (also ValueError)          a trainset/valset/devset that cannot be used (empty, too small)
    │   └── TrainsetTooSmallError (also AssertionError)  SIMBA's trainset is smaller than one mini-batch
    ├── SavedStateError (also ValueError)       a saved program or LM state that cannot be written or loaded
    │   └── RejectedValueError                  a cached value naming a class it may not rebuild
    ├── AdapterParseError (also ValueError)     an LM reply that does not fit the signature; keeps the raw reply
    ├── LMError                                 anything that went wrong talking to a language model
    │   ├── LMConfigurationError (also ConfigurationError, ValueError)
    │   ├── LMConnectionError                   the server could not be reached (retryable)
    │   ├── LMTimeoutError                      no answer in time (retryable)
    │   ├── LMRateLimitError                    429 (retryable, honours retry_after)
    │   ├── LMServerError                       5xx, 408, 409 (retryable)
    │   ├── LMAuthError                         401 / 403
    │   ├── LMBillingError                      402 / quota exhausted
    │   ├── LMNotFoundError                     404: unknown model or route
    │   ├── LMBadRequestError                   400 and other client errors
    │   │   └── ContextWindowExceededError      the prompt does not fit the model
    │   └── LMResponseError                     a reply that is not valid for the wire format
    ├── RetrieverError                          a retrieval server (ColBERTv2) that could not answer
    │   ├── RetrieverConnectionError            the server could not be reached, or did not answer in time
    │   └── RetrieverResponseError (also ValueError)  an error status or reply, or no `topk` in it
    ├── OptimizerError                          an optimizer could not produce a program
    │   ├── BootstrapError (also RuntimeError)  teacher runs or the metric failed max_errors times
    │   └── NoCandidateError (also ValueError)  no candidate program to evaluate or to pick
    ├── TooManyErrors (also RuntimeError)       more items of a batch failed than max_errors allows
    ├── ExecutionCancelledError (also RuntimeError)  ParallelExecutor stopped at max_errors
    ├── UnbatchifyClosedError (also RuntimeError)    an Unbatchify closed before an item ran
    ├── CodeInterpreterError (also RuntimeError)  the code sandbox failed (modules/interpreter.py)
    │   ├── CodeExecutionError                  the generated code raised or could not run
    │   └── SandboxIsolationError               isolation was required and is not available
    ├── CheckpointError                         an optimizer checkpoint that cannot be used
    ├── UnsupportedFeatureError (also NotImplementedError)  DSPy has it, dspy-ash does not (yet)
    │   ├── MissingFeatureError (also AttributeError)   `dspy.X` names what dspy-ash lacks (hasattr stays False)
    │   ├── UnsupportedImportError (also ImportError)   `import dspy.X` / `from dspy.X import Y` for the same
    │   └── TrainingBackendRequiredError        a fine-tuning optimizer (BootstrapFinetune, BetterTogether, GRPO)
    ├── StoreError                              the store's errors (store/_errors.py has its tree)
    ├── ActionError                             the service's refusals (actions/_errors.py has its tree)
    │   └── LoginRequired (an UnauthenticatedError)  a dashboard page without a session: a redirect to log in
    ├── RunInputError (also ValueError)         a queued run cannot start as created (jobs/_work.py)
    └── CommandError                            a CLI command's failure, one line and a hint (cli/_client.py)

Classes defined next to their raisers (BootstrapError, TooManyErrors, TrainsetTooSmallError,
TrainingBackendRequiredError, the interpreter's, the store's, the actions')
are drawn here too; tests/unit/core/test_error_tree.py checks that every exception class of the package
is under the root. Only `dspy_ash.api` maps these to HTTP responses.
"""

from __future__ import annotations

from typing import Any


class DspyAshError(Exception):
    """Root of every error dspy-ash raises on purpose."""


DSPyError = DspyAshError  # DSPy's name for the root


class SignatureError(DspyAshError, ValueError):
    """A signature that cannot be built: `field` names the culprit (None when the whole string is wrong)."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class SettingsError(DspyAshError):
    """Settings that cannot be changed as asked."""


class ConfigureOwnershipError(SettingsError, RuntimeError):
    """`configure()` from a thread or task other than the owner (DSPy raises `RuntimeError` there)."""


class UnknownSettingError(SettingsError, TypeError):
    """A setting name that does not exist (a `TypeError`, like an unexpected keyword argument)."""

    def __init__(self, message: str, *, name: str) -> None:
        super().__init__(message)
        self.name = name


class SignatureSyntaxError(SignatureError, SyntaxError):
    """A signature string Python cannot read as a field list; DSPy raises `SyntaxError` there."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message, field=field)
        self.msg = message  # SyntaxError's own attribute: what str() and tracebacks show


class SignatureTypeError(SignatureError, TypeError):
    """A type DSPy refuses with `TypeError`: a bad subscript (`list[int][str]`) or a field not declared
    with InputField/OutputField."""


class ConfigurationError(DspyAshError, ValueError):
    """Arguments or options that cannot work, alone or together (a bad `auto=`, `breadth=1`, ...)."""


class NoLMConfiguredError(ConfigurationError):
    """An LM is needed and none is configured (`dspy.configure(lm=...)`) or passed."""


class InvalidInputError(DspyAshError, ValueError):
    """A call's inputs that cannot be used as given (a missing input, mismatched lengths, ...)."""


class InvalidInputTypeError(InvalidInputError, TypeError):
    """A call's input of a type that cannot be used (DSPy raises `TypeError` there)."""


class DatasetError(DspyAshError, ValueError):
    """A trainset, valset or devset that cannot be used: empty, too small for what was asked."""


class SavedStateError(DspyAshError, ValueError):
    """A saved program or LM state that cannot be written or loaded as asked."""


class OptimizerError(DspyAshError):
    """An optimizer could not produce a program."""


class NoCandidateError(OptimizerError, ValueError):
    """No candidate program was left to evaluate or to pick."""


class AdapterParseError(DspyAshError, ValueError):
    """An LM reply that could not be parsed into the signature's output fields."""

    code = "adapter_parse_error"  # DSPy's machine-readable kind of failure

    def __init__(
        self,
        adapter_name: str,
        signature: Any,
        lm_response: str,
        message: str | None = None,
        parsed_result: dict[str, Any] | None = None,
    ) -> None:
        self.adapter_name = adapter_name
        self.signature = signature
        self.lm_response = lm_response
        self.parsed_result = parsed_result
        expected = list(getattr(signature, "output_fields", {}) or {})
        self.missing_fields = [f for f in expected if f not in (parsed_result or {})]
        text = (message + "\n\n") if message else ""
        text += f"Adapter {adapter_name} failed to parse the LM response. \n\nLM Response: {lm_response} \n\n"
        text += f"Expected to find output fields in the LM response: [{', '.join(expected)}] \n\n"
        if parsed_result is not None:
            text += f"Actual output fields parsed from the LM response: [{', '.join(parsed_result)}] \n\n"
        super().__init__(text)


class LMError(DspyAshError):
    """A failed LM call. Carries what a caller needs to decide what to do next."""

    is_retryable: bool = False
    code: str = "lm_error"  # DSPy's machine-readable kind of failure
    default_message: str = "LM call failed"

    def __init__(
        self,
        message: str | None = None,
        *,
        status: int | None = None,
        provider: str | None = None,
        model: str | None = None,
        retry_after: float | None = None,
        request_id: str | None = None,
        body: str | None = None,
        code: str | None = None,
        provider_code: str | None = None,
    ) -> None:
        message = message or self.default_message
        # DSPy's text: "[model] message" (str and repr as DSPy's; the rest is in the attributes)
        super().__init__(f"[{model}] {message}" if model else message)
        self.message = message
        self.status = status
        self.provider = provider
        self.model = model
        self.retry_after = retry_after
        self.request_id = request_id
        self.body = body
        self.provider_code = provider_code
        if code is not None:
            self.code = code


class LMConfigurationError(LMError, ConfigurationError):
    """An LM (or embedder) configured in a way that cannot work: unknown provider, missing api_base, ..."""

    code = "configuration"
    default_message = "LM is not configured correctly"


class LMConnectionError(LMError):
    """The server could not be reached (refused, reset, DNS); retryable."""

    is_retryable = True
    code = "transport"
    default_message = "LM request failed before a response"


class LMTimeoutError(LMError):
    """No answer within the timeout; retryable."""

    is_retryable = True
    code = "timeout"
    default_message = "LM request timed out"


class LMRateLimitError(LMError):
    """429: too many requests; retryable, after `retry_after` seconds when the server said."""

    is_retryable = True
    code = "rate_limit"
    default_message = "LM request was rate-limited"


class LMServerError(LMError):
    """5xx, 408 or 409 from the provider; retryable."""

    is_retryable = True
    code = "server_error"
    default_message = "LM provider failed to handle the request"


class LMAuthError(LMError):
    """401 / 403: the key is missing, wrong or not allowed this model."""

    code = "auth"
    default_message = "LM provider rejected the credentials"


class LMBillingError(LMError):
    """402 or an exhausted quota: the account cannot pay for the call."""

    code = "billing"
    default_message = "LM provider rejected the request for billing or quota"


class LMNotFoundError(LMError):
    """404: an unknown model or route (check the model name and `api_base`)."""

    code = "unsupported_model"
    default_message = "LM model or route not found"


class LMBadRequestError(LMError):
    """400 and other client errors: the provider refused the request as sent."""

    code = "invalid_request"
    default_message = "LM provider rejected the request"


class ContextWindowExceededError(LMBadRequestError):
    """The prompt (with the requested output) does not fit the model's context window."""

    code = "context_window_exceeded"
    default_message = "Context window exceeded"


class LMResponseError(LMError):
    """A reply that is not valid for the wire format (not JSON, no choices, cut off, ...)."""

    code = "unexpected"
    default_message = "LM reply is not valid for the wire format"


# DSPy 3.4's names for the same failures (its tree splits them differently; these catch what DSPy's do).
LMTransportError = LMConnectionError
LMProviderError = LMError
LMInvalidRequestError = LMBadRequestError
LMUnsupportedModelError = LMNotFoundError
LMNotConfiguredError = LMConfigurationError
LMUnexpectedError = LMResponseError


class RetrieverError(DspyAshError):
    """A retrieval server that could not answer a query; `url` is the server, `status` its HTTP status."""

    def __init__(self, message: str, *, url: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.url = url
        self.status = status


class RetrieverConnectionError(RetrieverError):
    """The retrieval server could not be reached (refused, reset, DNS) or did not answer in time."""


class RetrieverResponseError(RetrieverError, ValueError):
    """An error status, a reply that is not JSON, an `error` reply or one without `topk` (DSPy raises
    `ValueError` for the last two)."""


class CheckpointError(DspyAshError):
    """An optimizer checkpoint that cannot be used (another compile's, or unreadable)."""


class UnsupportedFeatureError(DspyAshError, NotImplementedError):
    """Something DSPy has that dspy-ash does not (yet); also a `NotImplementedError`."""


class MissingFeatureError(UnsupportedFeatureError, AttributeError):
    """A DSPy name with no dspy-ash counterpart, reached as an attribute: an AttributeError, so that
    `hasattr` and `getattr(obj, name, default)` behave as for any absent name."""


class UnsupportedImportError(UnsupportedFeatureError, ImportError):
    """A DSPy module or name with no dspy-ash counterpart, reached by an import statement: an ImportError,
    so that `try: from dspy.X import Y except ImportError:` fallbacks keep working."""


def format_error_for_lm(error: BaseException, *, traceback_frames: int = 0) -> str:
    """An exception as text to feed back to an LM (DSPy's helper): `str(error)`, or with
    `traceback_frames > 0` a traceback of at most that many frames, as DSPy formats it."""
    if traceback_frames <= 0:
        return str(error)
    import traceback

    lines = traceback.format_exception(type(error), error, error.__traceback__, limit=traceback_frames)
    return "\n" + "".join(lines).strip()


def is_retryable_lm_error(exc: BaseException) -> bool:
    """Whether a failed LM call is worth trying again (rate limit, timeout, transport, 5xx)."""
    return isinstance(exc, LMError) and exc.is_retryable
