"""Which environment variables a stored LM provider may name as its key.

A provider row may say "read my key from $NAME" instead of storing it. The name is tenant input and
the value goes out as a bearer token to the provider's (tenant-chosen) base URL, so an unchecked name
hands the tenant any server variable: DSPY_ASH_SECRET_KEY, which decrypts every tenant's secrets, or
the database URL with its password. Names therefore come from the operator's allow-list
(`settings.provider_env_allow()`, or one passed in), checked when a reference is stored and again
when it is resolved, and the project's own DSPY_ASH_* variables are refused whatever the list says
(only the DSPY_ASH_PROVIDER_KEY_ prefix, reserved for provider keys, is exempt).

The default list names the well-known provider key variables so that a one-user setup works with
OPENAI_API_KEY as it is. Those keys are the operator's, so under the default list they are sent only
to the provider's own endpoint: a provider with a custom base URL (which a tenant chooses and could
point at its own server to collect the bearer token) may read a variable only when the operator has
set the list explicitly and so accepted that any tenant may use, and see, the keys it names.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from dspy_ash.settings import DEFAULT_PROVIDER_ENV_ALLOW, PROVIDER_ENV_ALLOW, provider_env_allow
from dspy_ash.store._errors import EnvNotAllowedError

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,199}$")  # the column holds 200 characters
_OWN_PREFIX = "DSPY_ASH_"
_PROVIDER_KEY_PREFIX = "DSPY_ASH_PROVIDER_KEY_"


def is_own_variable(name: str) -> bool:
    """One of the project's own settings or secrets (compared case-insensitively: Windows reads them so)."""
    upper = name.upper()
    return upper.startswith(_OWN_PREFIX) and not upper.startswith(_PROVIDER_KEY_PREFIX)


class EnvAllowList:
    """Exact names and `PREFIX*` entries. Matching is exact (case-sensitive); anything else is refused."""

    __slots__ = ("explicit", "names", "prefixes")

    def __init__(self, entries: Iterable[str], *, explicit: bool = True) -> None:
        self.explicit = explicit  # set by the operator (not the built-in default)
        cleaned = [e.strip() for e in entries if e.strip()]
        self.names = frozenset(e for e in cleaned if not e.endswith("*"))
        self.prefixes = tuple(e[:-1] for e in cleaned if e.endswith("*"))

    @classmethod
    def resolve(cls, entries: Iterable[str] | None) -> EnvAllowList:
        """The given entries, else the configured ones (DSPY_ASH_PROVIDER_ENV_ALLOW or the default)."""
        if entries is not None:
            return cls(entries)
        configured = provider_env_allow()
        return cls(configured, explicit=configured is not DEFAULT_PROVIDER_ENV_ALLOW)

    def allows(self, name: str) -> bool:
        if not _NAME.match(name) or is_own_variable(name):
            return False
        return name in self.names or any(name.startswith(p) for p in self.prefixes)

    def check(self, name: str, *, custom_endpoint: bool = False) -> None:
        """Refuse `name` unless allowed; `custom_endpoint`: the key would go to a tenant-chosen base URL."""
        if self.allows(name):
            if custom_endpoint and not self.explicit:
                raise EnvNotAllowedError(
                    name,
                    f"a provider with a custom base URL may not read its key from {name!r} under the "
                    f"default allow-list: the key would be sent to an endpoint the tenant chose. Store the "
                    f"key itself (api_key=, encrypted), or set {PROVIDER_ENV_ALLOW} explicitly to the "
                    f"variables every tenant may use",
                )
            return
        if is_own_variable(name):
            why = "it is one of dspy-ash's own settings, which providers may never read"
        elif not _NAME.match(name):
            why = "it is not an environment variable name"
        else:
            why = "it is not in the allow-list"
        raise EnvNotAllowedError(
            name,
            f"a provider may not read its key from {name!r}: {why}. The operator allows variables with "
            f"{PROVIDER_ENV_ALLOW} (comma-separated names and PREFIX* entries, e.g. "
            f"'{_PROVIDER_KEY_PREFIX}*,ACME_LLM_KEY'), or stores the key itself (api_key=, encrypted)",
        )
