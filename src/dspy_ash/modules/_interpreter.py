"""`PythonInterpreter`: runs untrusted, model-written Python in a locked-down child process.

Layers, each enough to stop a different mistake (the worker is `_sandbox_worker.py`):
1. a separate process of the same Python started with `-I -S` (no site-packages, no user paths,
   PYTHON* variables ignored), an empty environment and a fresh empty working directory;
2. when `unshare` works here, a new network namespace: the child has only a loopback interface,
   and it is down. As root that is `unshare --net`; as any other user `unshare --map-current-user
   --net` (a user namespace that maps the user to itself, so the child keeps no capabilities), or
   `--map-root-user` where util-linux is older than 2.38. Without it the child shares the host's
   network (only layer 4 stops sockets): `PythonInterpreter` then warns once per process, and
   `require_isolation=True` (or DSPY_ASH_SANDBOX_REQUIRE_ISOLATION=1) refuses to run instead;
3. resource limits set in the child before user code: address space (memory), CPU seconds for the
   session, file size 0 (it cannot write), 16 descriptors, no child processes; when started as root
   it drops to `nobody`, so private host files are unreadable even past layer 4 (as another user it
   runs as that user, and can read what that user can if layer 4 is bypassed); a watchdog thread
   exits the child if the host dies without killing it;
4. an audit hook installed before the first line of user code that refuses opening any file but
   the standard library for reading (checked on the open flags too, so `os.open` cannot write,
   create, truncate or append), listing directories, sockets, subprocesses, exec/fork/kill,
   ctypes, new imports beyond an allowlist, frame access, and rewriting functions (the hook's own
   state);
5. a wall-clock limit enforced by the host, which kills the child's whole process group.

Replies come back authenticated (see `_sandbox_worker.py`): each is framed with its request's random
nonce and an HMAC under a session key that user code cannot reach, on a descriptor that is not fd 1.
The host accepts exactly one such frame per request, so code that writes to fd 1 or to any descriptor
it guesses cannot forge a result nor shift later results onto earlier requests.

Host tools (`tools={"name": fn}`) are reachable from the code as functions of those names. Each call
crosses as one JSON line on a pipe of its own (`{"id", "name", "args", "kwargs"}` out, `{"id", "result"}`
or `{"id", "error"}` back): the host runs only a registered tool, with those JSON arguments, and sends its
result back as JSON. That pipe carries no key: writing to it directly can do no more than the tool
functions already do. Tool time counts against the execution's `timeout`.

What it does not protect against: CPU-level side channels, bugs in CPython itself (a memory
corruption bug can disable the audit hook; layers 2, 3 and 5 still hold), reading world-readable
standard library sources, and learning whether a path exists via `os.stat` (not an audited event).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import inspect
import json
import keyword
import logging
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Awaitable, Callable
from functools import cache
from pathlib import Path
from typing import Any

from dspy_ash._sync import run_sync
from dspy_ash.adapters._formatting import serialize_for_json
from dspy_ash.errors import ConfigurationError, DspyAshError, UnsupportedFeatureError
from dspy_ash.modules._calling import acall_part
from dspy_ash.primitives._observed import aobserved
from dspy_ash.settings import sandbox_requires_isolation

logger = logging.getLogger("dspy_ash.interpreter")

_WORKER_SOURCE = (Path(__file__).with_name("_sandbox_worker.py")).read_text(encoding="utf-8")

# Imported before the privilege drop; the same names (and their submodules) may be imported later.
DEFAULT_MODULES = (
    "math",
    "cmath",
    "decimal",
    "fractions",
    "statistics",
    "random",
    "itertools",
    "functools",
    "operator",
    "collections",
    "collections.abc",
    "heapq",
    "bisect",
    "re",
    "json",
    "string",
    "datetime",
    "calendar",
    "textwrap",
    "numbers",
    "typing",
    "dataclasses",
    "enum",
    "copy",
    "pprint",
    "array",
    "unicodedata",
    "hashlib",
    "base64",
    "binascii",
    "struct",
    "time",
    "zlib",
)


_DSPY_OPTIONS = {
    "deno_command",
    "enable_read_paths",
    "enable_write_paths",
    "enable_env_vars",
    "enable_network_access",
    "sync_files",
}


class CodeInterpreterError(DspyAshError, RuntimeError):
    """The interpreter itself failed (could not start, broke the protocol); the code cannot fix this."""


class CodeExecutionError(CodeInterpreterError):
    """The submitted code failed: an exception, the time or memory limit, or too much output."""


class SandboxIsolationError(CodeInterpreterError):
    """Isolation was required (`require_isolation=True`) but is incomplete on this machine."""


class SandboxIsolationWarning(RuntimeWarning):
    """The sandbox runs with incomplete isolation (no network namespace); given once per process."""


_warned_incomplete_isolation = False


class _ForgedReply(Exception):
    """A frame on the reply channel carried the request's nonce but not a valid tag."""


_NONCE_BYTES = 16
_TAG_BYTES = 32


class FinalOutput:
    """What `execute` returns when the code called `SUBMIT(...)`."""

    def __init__(self, output: Any) -> None:
        self.output = output

    def __repr__(self) -> str:
        return f"FinalOutput({self.output!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FinalOutput) and other.output == self.output

    __hash__ = None  # type: ignore[assignment]


@cache
def _network_wrapper() -> tuple[str, ...]:
    """The `unshare` prefix that gives the child an empty network namespace, or () where it fails."""
    exe = shutil.which("unshare")
    if exe is None:
        return ()
    if os.geteuid() == 0:
        candidates = [(exe, "--net")]  # no user namespace: the worker can still drop to nobody
    else:
        # --map-current-user keeps the child's uid and, after exec, leaves it no capabilities;
        # --map-root-user (util-linux < 2.38) makes it root only inside its own namespace.
        candidates = [(exe, "--map-current-user", "--net"), (exe, "--map-root-user", "--net")]
    for prefix in candidates:
        try:
            done = subprocess.run([*prefix, "true"], capture_output=True, timeout=5, check=False)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if done.returncode == 0:
            return prefix
    return ()


class PythonInterpreter:
    """`execute(code, variables=None)` runs code and returns the last expression's value, the
    printed output when there is none, or `FinalOutput` when the code called `SUBMIT(...)`.

    Variables persist across `execute` calls of one session (until `shutdown()`, a timeout or a crash).
    """

    # What `RLM` tells the model about this runtime (DSPy's hook; its Deno interpreter describes Pyodide).
    execution_instructions = (
        "Python runs in a sandboxed CPython subprocess. State persists across executions. Only an allowlist of "
        "standard library modules can be imported (such as re, json, collections, math, statistics, and itertools); "
        "files, environment variables, the network, and subprocesses are unavailable."
    )

    def __init__(
        self,
        tools: dict[str, Any] | None = None,
        output_fields: list[dict[str, Any]] | None = None,
        *,
        timeout: float = 10.0,
        memory_mb: int = 512,
        max_output_bytes: int = 1_000_000,
        isolate_network: bool = True,
        session_cpu_seconds: int = 300,
        modules: tuple[str, ...] = DEFAULT_MODULES,
        require_isolation: bool | None = None,
        callbacks: list[Any] | None = None,
        **dspy_options: Any,
    ) -> None:
        self.tools: dict[str, Any] = dict(tools or {})
        bad = [n for n in self.tools if not n.isidentifier() or keyword.iskeyword(n) or n == "SUBMIT"]
        if bad:
            raise ConfigurationError(f"Tool names must be Python identifiers other than SUBMIT: {bad}")
        # DSPy's Deno options that grant access (read/write paths, env vars, network) are refused
        # rather than ignored: code written for them would silently lose access otherwise.
        granted = {k: v for k, v in dspy_options.items() if v and k != "sync_files"}
        if granted or set(dspy_options) - _DSPY_OPTIONS:
            raise UnsupportedFeatureError(
                f"PythonInterpreter options {sorted(granted or dspy_options)} are not supported: the sandbox "
                "grants no file, environment or network access."
            )
        self.output_fields = output_fields
        self.timeout = timeout
        self.memory_mb = memory_mb
        self.max_output_bytes = max_output_bytes
        self.isolate_network = isolate_network
        # RLIMIT_CPU counts the whole session; per-execution time is the host's wall-clock `timeout`.
        self.session_cpu_seconds = session_cpu_seconds
        self.modules = modules
        # DSPy's instance callbacks: each `execute` is announced as a module call, as DSPy's is.
        self.callbacks = list(callbacks or [])
        # None: DSPY_ASH_SANDBOX_REQUIRE_ISOLATION decides (an operator's switch for a whole deployment).
        self.require_isolation = (
            sandbox_requires_isolation() if require_isolation is None else require_isolation
        )
        if self.require_isolation and not isolate_network:
            raise SandboxIsolationError("require_isolation=True contradicts isolate_network=False")
        self._key: bytes | None = None  # the session's reply-authentication key
        self._proc: asyncio.subprocess.Process | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._workdir: str | None = None
        self._tool_channel: _ToolChannel | None = None

    @property
    def network_isolated(self) -> bool:
        """Whether children get their own empty network namespace on this machine."""
        return self.isolate_network and bool(_network_wrapper())

    def _check_isolation(self) -> None:
        global _warned_incomplete_isolation
        if self.network_isolated:
            return
        gap = (
            "isolate_network=False"
            if not self.isolate_network
            else "`unshare --net` is missing or refused here (no user namespaces?)"
        )
        message = (
            f"PythonInterpreter runs without its own network namespace ({gap}): only the audit hook "
            "stops sandboxed code from using the host's network."
        )
        if self.require_isolation:
            raise SandboxIsolationError(f"{message} Isolation is required, so the sandbox will not start.")
        if not _warned_incomplete_isolation:
            _warned_incomplete_isolation = True
            logger.warning("%s", message)
            warnings.warn(message, SandboxIsolationWarning, stacklevel=4)

    # -- lifecycle ---------------------------------------------------------------------------------
    # Each public lifecycle call is reported to callbacks (DSPy's interpreter events), even when it has
    # nothing to do; the session's own restarts and teardowns after a failure are not.
    def start(self) -> None:
        run_sync(self.astart())

    async def astart(self) -> None:
        await self._observed("interpreter_startup", {}, self._astart)

    def _running(self) -> bool:
        proc = self._proc
        return proc is not None and proc.returncode is None and self._loop is asyncio.get_running_loop()

    async def _observed(self, kind: Any, inputs: dict[str, Any], call: Callable[[], Awaitable[Any]]) -> Any:
        return await aobserved(kind, type(self).__name__, self, inputs, call, self.callbacks)

    async def _astart(self) -> None:
        if self._running():
            return
        loop = asyncio.get_running_loop()
        await self._ashutdown()
        self._check_isolation()
        self._workdir = tempfile.mkdtemp(prefix="dspy-ash-sandbox-")
        root = os.geteuid() == 0
        if root:
            os.chown(self._workdir, 65534, 65534)  # the child runs as nobody and may only enter it
        config: dict[str, Any] = {
            # Only real root drops privileges; under a non-root host's user namespace there is none
            # to drop (and setgroups is refused there).
            "drop_root": root,
            "memory_bytes": self.memory_mb * 1024 * 1024,
            "cpu_seconds": self.session_cpu_seconds,
            "preload": list(self.modules),
            "allowed_imports": sorted({m.split(".")[0] for m in self.modules}),
            "output_names": [str(f["name"]) for f in self.output_fields or []],
            "tool_names": list(self.tools),
        }
        prefix = _network_wrapper() if self.isolate_network else ()
        channel = await _ToolChannel.open(self.max_output_bytes) if self.tools else None
        if channel is not None:
            config["tool_fds"] = list(channel.child_fds)
        self._tool_channel = channel
        self._proc = await asyncio.create_subprocess_exec(
            *prefix,
            sys.executable,
            "-I",
            "-S",
            "-c",
            _WORKER_SOURCE,
            json.dumps(config),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=self._workdir,
            env={},
            start_new_session=True,
            limit=self.max_output_bytes,
            pass_fds=channel.child_fds if channel is not None else (),
        )
        if channel is not None:
            channel.close_child_ends()
        self._loop = loop
        self._key = secrets.token_bytes(32)
        assert self._proc.stdin is not None
        self._proc.stdin.write(self._key.hex().encode() + b"\n")  # the first line: before any user code
        hello = await self._request("{}", startup=True)
        if hello != {"ready": True}:
            await self._ashutdown()
            raise CodeInterpreterError(f"The sandbox did not start: {hello}")

    def shutdown(self) -> None:
        run_sync(self.ashutdown())

    async def ashutdown(self) -> None:
        await self._observed("interpreter_shutdown", {}, self._ashutdown)

    async def _ashutdown(self) -> None:
        proc, self._proc = self._proc, None
        self._key = None
        channel, self._tool_channel = self._tool_channel, None
        if channel is not None:
            channel.close()
        if proc is not None:
            if proc.returncode is None:
                _kill_group(proc.pid)
            # Draining the pipes to EOF lets asyncio close their transports (no ResourceWarning).
            with contextlib.suppress(Exception):
                await asyncio.wait_for(proc.communicate(), 5)
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def __enter__(self) -> PythonInterpreter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    async def __aenter__(self) -> PythonInterpreter:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.ashutdown()

    # -- running code -------------------------------------------------------------------------------
    def execute(self, code: str, variables: dict[str, Any] | None = None) -> Any:
        return run_sync(self.aexecute(code, variables))

    __call__ = execute

    async def aexecute(self, code: str, variables: dict[str, Any] | None = None) -> Any:
        inputs = {"code": code, "variables": variables}
        return await self._observed("interpreter_execute", inputs, lambda: self._aexecute(code, variables))

    async def _aexecute(self, code: str, variables: dict[str, Any] | None) -> Any:
        try:
            request = json.dumps({"code": code, "variables": variables or {}})
        except (TypeError, ValueError) as exc:
            raise CodeInterpreterError(f"Variables must be JSON-serializable: {exc}") from exc
        if not self._running():  # started on first use, reported as a startup inside this execution
            await self.astart()
        reply = await self._request(request)
        if "final" in reply:
            return FinalOutput(reply["final"])
        if "error" in reply:
            error = reply["error"]
            if error.get("type") == "SyntaxError":
                raise SyntaxError(f"Invalid Python syntax. message: {error.get('message')}")
            raise CodeExecutionError(f"{error.get('type')}: {error.get('message')}")
        return reply.get("output")

    async def _request(self, request: str, startup: bool = False) -> dict[str, Any]:
        """Send one request line and return its authenticated reply, or fail and end the session."""
        proc = self._proc
        assert proc is not None and proc.stdin is not None
        nonce = secrets.token_bytes(_NONCE_BYTES)
        proc.stdin.write(nonce.hex().encode() + b" " + request.encode() + b"\n")
        try:
            await proc.stdin.drain()
            payload = await asyncio.wait_for(
                self._read_frame_serving_tools(nonce), self.timeout + (5 if startup else 0)
            )
        except TimeoutError:
            await self._ashutdown()
            raise CodeExecutionError(
                f"TimeoutError: the code ran longer than {self.timeout:g} seconds and was stopped"
            ) from None
        except (ValueError, asyncio.LimitOverrunError):
            await self._ashutdown()
            raise CodeExecutionError(
                f"OutputError: the code produced more than {self.max_output_bytes} bytes of output"
            ) from None
        except (asyncio.IncompleteReadError, ConnectionError):
            detail = await self._death_notice(proc)
            await self._ashutdown()
            raise CodeExecutionError(detail) from None
        except _ForgedReply:
            await self._ashutdown()
            raise CodeInterpreterError(
                "The sandbox broke its protocol: a reply failed authentication"
            ) from None
        try:
            message = json.loads(payload)
        except ValueError as exc:
            await self._ashutdown()
            raise CodeInterpreterError(f"The sandbox broke its protocol: {payload[:200]!r}") from exc
        if not isinstance(message, dict):
            await self._ashutdown()
            raise CodeInterpreterError(f"The sandbox broke its protocol: {payload[:200]!r}")
        return message  # pyright: ignore[reportUnknownVariableType]

    async def _read_frame_serving_tools(self, nonce: bytes) -> bytes:
        """The request's reply frame, answering the code's tool calls until it arrives."""
        channel = self._tool_channel
        if channel is None:
            return await self._read_frame(nonce)
        frame = asyncio.ensure_future(self._read_frame(nonce))
        serving = asyncio.ensure_future(channel.serve(self._answer_tool_call))
        try:
            await asyncio.wait({frame, serving}, return_when=asyncio.FIRST_COMPLETED)
            error = serving.exception() if serving.done() else None
            if error is not None and not frame.done():
                raise error  # a tool call line over the size limit
            return await frame
        finally:
            for task in (frame, serving):
                task.cancel()
            await asyncio.gather(frame, serving, return_exceptions=True)

    async def _answer_tool_call(self, line: bytes) -> dict[str, Any]:
        """One tool call from the sandbox: only a registered tool, with the JSON arguments it sent."""
        call_id = None
        try:
            request = json.loads(line)
            if not isinstance(request, dict):
                raise CodeInterpreterError("A tool call must be a JSON object")
            call_id = request.get("id")  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
            name, args, kwargs = request.get("name"), request.get("args") or [], request.get("kwargs") or {}  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
            if not isinstance(name, str) or not isinstance(args, list) or not isinstance(kwargs, dict):
                raise CodeInterpreterError("A tool call needs a name, a list of args and a dict of kwargs")
            result = await self.ainvoke_tool(name, _named_arguments(self.tools.get(name), args, kwargs))  # pyright: ignore[reportUnknownArgumentType]
            return {"id": call_id, "result": serialize_for_json(result)}
        except Exception as exc:  # the tool's failure goes back to the code, which may handle it
            return {"id": call_id, "error": {"type": type(exc).__name__, "message": str(exc)}}

    # -- host tools ---------------------------------------------------------------------------------
    def invoke_tool(self, tool_name: str, kwargs: dict[str, Any]) -> Any:
        """Call a registered tool as the sandboxed code does (DSPy's name); its exceptions propagate."""
        return run_sync(self.ainvoke_tool(tool_name, kwargs))

    async def ainvoke_tool(self, tool_name: str, kwargs: dict[str, Any]) -> Any:
        inputs = {"tool_name": tool_name, "kwargs": kwargs}
        return await self._observed(
            "interpreter_tool_call", inputs, lambda: self._ainvoke_tool(tool_name, kwargs)
        )

    async def _ainvoke_tool(self, tool_name: str, kwargs: dict[str, Any]) -> Any:
        tool = self.tools.get(tool_name)
        if tool is None:
            raise CodeInterpreterError(f"Unknown tool: {tool_name}")
        return await acall_part(tool, **kwargs)  # a dspy Tool, an async or a plain function

    async def _read_frame(self, nonce: bytes) -> bytes:
        """The payload of the frame `nonce | length | tag(head) | payload | tag(head + payload)`."""
        proc, key = self._proc, self._key
        assert proc is not None and proc.stdout is not None and key is not None
        reader = proc.stdout
        before = await reader.readuntil(nonce)  # bounded by the reader's limit (max_output_bytes)
        if len(before) > len(nonce):
            # Bytes before the frame cannot be the worker's reply (they lack this request's nonce):
            # the sandboxed code wrote to the channel. They are dropped, never read as a reply.
            logger.warning(
                "Dropped %d bytes the sandboxed code wrote to the reply channel", len(before) - len(nonce)
            )
        head = nonce + await reader.readexactly(4)
        if not hmac.compare_digest(await reader.readexactly(_TAG_BYTES), hmac.digest(key, head, "sha256")):
            raise _ForgedReply
        size = int.from_bytes(head[len(nonce) :], "big")
        if size > self.max_output_bytes:
            raise ValueError("reply too large")
        payload = await reader.readexactly(size)
        if not hmac.compare_digest(
            await reader.readexactly(_TAG_BYTES), hmac.digest(key, head + payload, "sha256")
        ):
            raise _ForgedReply
        return payload

    async def _death_notice(self, proc: asyncio.subprocess.Process) -> str:
        code = await proc.wait()
        stderr = b""
        if proc.stderr is not None:
            with contextlib.suppress(Exception):
                stderr = await asyncio.wait_for(proc.stderr.read(4000), 1)
        if code == -signal.SIGXCPU or code == -signal.SIGKILL:
            return f"TimeoutError: the code used more than its CPU time limit (exit {code})"
        tail = stderr.decode(errors="replace").strip().splitlines()[-1:] or [""]
        return f"CrashError: the sandbox exited with code {code}. {tail[0]}".strip()


def _named_arguments(tool: Any, args: list[Any], kwargs: dict[str, Any]) -> dict[str, Any]:
    """Positional arguments from the sandbox bound to the tool's parameter names (tools take keywords)."""
    if not args or tool is None:
        return kwargs
    target = getattr(tool, "func", tool)  # a dspy Tool wraps the function
    return dict(inspect.signature(target).bind(*args, **kwargs).arguments)


class _ToolChannel:
    """The pipes of the tool bridge: the sandbox writes call lines to one and reads answers from the other."""

    def __init__(self, limit: int) -> None:
        self._calls_read, calls_write = os.pipe()
        answers_read, self._answers_write = os.pipe()
        self.child_fds = (calls_write, answers_read)
        self._limit = limit
        self._reader: asyncio.StreamReader | None = None
        self._transports: list[asyncio.BaseTransport] = []
        self._writer: asyncio.StreamWriter | None = None

    @classmethod
    async def open(cls, limit: int) -> _ToolChannel:
        channel = cls(limit)
        loop = asyncio.get_running_loop()
        reader = channel._reader = asyncio.StreamReader(limit=limit, loop=loop)
        read_transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(channel._calls_read, "rb", 0)
        )
        write_transport, protocol = await loop.connect_write_pipe(
            asyncio.streams.FlowControlMixin, os.fdopen(channel._answers_write, "wb", 0)
        )
        channel._writer = asyncio.StreamWriter(write_transport, protocol, None, loop)  # pyright: ignore[reportArgumentType]
        channel._transports = [read_transport, write_transport]
        return channel

    def close_child_ends(self) -> None:
        for fd in self.child_fds:
            with contextlib.suppress(OSError):
                os.close(fd)

    async def serve(self, answer: Callable[[bytes], Awaitable[dict[str, Any]]]) -> None:
        """Answer call lines until the sandbox closes its end; a line over the limit raises ValueError."""
        assert self._reader is not None and self._writer is not None
        while True:
            line = await self._reader.readline()
            if not line:
                return
            reply = json.dumps(await answer(line), ensure_ascii=True).encode() + b"\n"
            self._writer.write(reply)
            await self._writer.drain()

    def close(self) -> None:
        for transport in self._transports:
            transport.close()
        self.close_child_ends()


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
