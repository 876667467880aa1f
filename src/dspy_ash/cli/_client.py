"""How the resource commands reach the service: the actions of a local database, or a remote server's REST
API, called the same way (an action's name and its input) and answering the same JSON.

The caller is an API key either way (`DSPY_ASH_API_KEY`, or `--key`): locally it is checked against the
database like a request's, so the CLI can do nothing the key could not do over HTTP.
"""

from __future__ import annotations

import json
import re
from typing import Any, Protocol

from dspy_ash.errors import DspyAshError

_PATH_PARAM = re.compile(r"{(\w+)}")


class CommandError(DspyAshError):
    """A command's failure as one line and a hint (the CLI prints it, never a traceback)."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


class Client(Protocol):
    async def call(self, action: str, payload: dict[str, Any]) -> Any:
        """The action's result as JSON data (dicts, lists, strings, numbers)."""
        ...

    async def close(self) -> None: ...


class LocalClient:
    """Invokes actions in this process, against the database at `url`."""

    def __init__(self, url: str, key: str) -> None:
        self.url, self.key = url, key
        self.services: Any = None
        self.actor: Any = None

    async def call(self, action: str, payload: dict[str, Any]) -> Any:
        from dspy_ash.actions import Services, ServiceSettings, authenticate_key, invoke
        from dspy_ash.store import connect

        if self.services is None:
            self.services = Services(
                db=await connect(self.url), settings=ServiceSettings(database_url=self.url)
            )
        if self.actor is None:
            self.actor = await authenticate_key(self.services, self.key)
            if self.actor is None:
                raise CommandError("the API key is not valid for this database", "check DSPY_ASH_API_KEY")
        try:
            result = await invoke(self.services, action, self.actor, payload)
        except Exception as exc:
            raise _local_error(exc) from exc
        return result.model_dump(mode="json")

    async def close(self) -> None:
        if self.services is not None:
            from dspy_ash.actions import stop_serving

            await stop_serving(self.services)  # traces of the calls made here are written before exit
            await self.services.db.dispose()


def _local_error(exc: Exception) -> Exception:
    """An action's refusal as the API would title it (`Not found: program ... not found`)."""
    from dspy_ash.api._problems import PROBLEMS

    fields = getattr(exc, "fields", None) or []  # InvalidRequestError: which fields, and what is wrong
    said = "; ".join(f"{f.field.removeprefix('body.')}: {f.message}" for f in fields)
    for cls, _status, _slug, title in PROBLEMS:
        if isinstance(exc, cls):
            return CommandError(f"{title}: {said or exc}")
    return exc


class RemoteClient:
    """Calls a server's REST API: each action at its declared method and path."""

    def __init__(self, server: str, key: str) -> None:
        self.server, self.key = server.rstrip("/"), key
        self.session: Any = None

    async def call(self, action: str, payload: dict[str, Any]) -> Any:
        import aiohttp

        from dspy_ash.actions import lookup

        declared = lookup(action)
        if declared.http is None:
            raise CommandError(f"{action} is not served over REST", "run the command against the database")
        fields = {k: v for k, v in payload.items() if v is not None}
        path = _PATH_PARAM.sub(lambda m: str(fields.pop(m.group(1))), declared.http.path)
        query = {k: fields.pop(k) for k in declared.http.query if k in fields}
        body: dict[str, Any] | None = None
        if declared.http.method in ("GET", "DELETE"):
            query.update(fields)
        else:
            body = fields
        if self.session is None:
            headers = {"Authorization": f"Bearer {self.key}"}
            self.session = aiohttp.ClientSession(headers=headers, timeout=aiohttp.ClientTimeout(total=300))
        params = [(k, _param(item)) for k, v in query.items() for item in (v if isinstance(v, list) else [v])]
        try:
            async with self.session.request(
                declared.http.method, f"{self.server}/api/v1{path}", params=params, json=body
            ) as response:
                data = await response.json(content_type=None) if response.content_length != 0 else None
                if response.status >= 400:
                    raise _remote_error(response.status, data)
                return data
        except aiohttp.ClientError as exc:
            raise CommandError(
                f"cannot reach {self.server}: {exc}", "is the server up? (dspy-ash serve)"
            ) from None

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()


def _param(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value) if isinstance(value, dict) else str(value)


def _remote_error(status: int, data: Any) -> CommandError:
    if isinstance(data, dict) and "title" in data:
        problems = data.get("errors") or []
        said = "; ".join(
            f"{p.get('field', '?').removeprefix('body.')}: {p.get('message', '')}" for p in problems
        )
        return CommandError(f"{data['title']}: {said or data.get('detail') or ''}".rstrip(": "))
    return CommandError(f"the server answered {status}")
