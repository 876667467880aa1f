"""The sandboxed side of `PythonInterpreter`: run as `python -I -S -c <this source> <json config>`.

It is never imported by the host. Order matters: the reply channel, limits, the imports user code may
use, dropping root, the audit hook, and only then the first line of untrusted code.

The protocol, and why user code cannot forge a reply (it runs in this very process, so it can write
to any descriptor it guesses and patch any module):
- replies go to a private duplicate of the original stdout; fd 1 itself now points at /dev/null, so
  writing to fd 1 or `sys.__stdout__` reaches nobody;
- the first stdin line is a session key; every request is `<nonce hex> <json>` and every reply a frame
  `nonce | length | HMAC(nonce | length) | payload | HMAC(nonce | length | payload)` (HMAC-SHA256
  under the key). The host accepts only a frame
  with the current request's nonce and a valid tag, so stray bytes cannot be taken for a reply and a
  reply cannot be taken for another request's;
- the key and the protocol state live only in `_serve`'s locals and the closures it builds (the
  reader, framer and runner), and frames are out of reach
  (the audit hook refuses `sys._getframe`, `tb_frame`, `gi_frame`, `cr_frame`, `ag_frame`, gc
  introspection); nothing in this module's globals (`sys.modules['__main__']`) or SUBMIT's leads to
  them; `_serve` calls only C functions bound before user code runs, so patching `json`, `hmac` or
  builtins changes nothing in how requests are read or replies framed.
"""

import ast
import hashlib
import io
import json
import json.decoder
import json.encoder
import os
import resource
import sys
from typing import Any

CONFIG = json.loads(sys.argv[1])

# The reply channel moves off fd 1 before anything else runs: a write to fd 1 goes to /dev/null.
_BOOT = [os.dup(1)]  # popped into _serve's arguments at the end: no global keeps it
_null = os.open(os.devnull, os.O_WRONLY)
os.dup2(_null, 1)
os.close(_null)
del _null


def _limit(which, value):
    try:
        resource.setrlimit(which, (value, value))
    except (ValueError, OSError):  # a limit the platform cannot set stays as it was
        pass


_limit(resource.RLIMIT_AS, CONFIG["memory_bytes"])
_limit(resource.RLIMIT_CPU, CONFIG["cpu_seconds"])
_limit(resource.RLIMIT_FSIZE, 0)  # no file may grow: nothing is written anywhere
_limit(resource.RLIMIT_CORE, 0)
_limit(resource.RLIMIT_NOFILE, 16)

# What generated math code usually needs, imported now: after the privilege drop below the
# interpreter's own files may be unreadable, and the audit hook refuses every other import.
for _name in CONFIG["preload"]:
    try:
        __import__(_name)
    except Exception:
        pass


def _watch_parent(_parent=os.getppid(), _getppid=os.getppid, _sleep=__import__("time").sleep, _exit=os._exit):
    # If the host dies without killing us (SIGKILL, crash), we are re-parented: exit instead of
    # lingering. Started before the hook and the process limit; user code cannot reach its locals.
    while True:
        _sleep(0.5)
        if _getppid() != _parent:
            _exit(137)


__import__("threading").Thread(target=_watch_parent, daemon=True).start()

if CONFIG["drop_root"]:
    # Real root (no user namespace) ignores RLIMIT_NPROC and file permissions; `nobody` cannot fork
    # past the limit below nor read private host files even if the audit hook were bypassed. In a
    # user namespace the host tells us not to: there uid 0, if we are it, is only the host's own user.
    os.setgroups([])
    os.setgid(65534)
    os.setuid(65534)
_limit(resource.RLIMIT_NPROC, 0)

_READ_ROOTS = tuple(p.rstrip("/") + "/" for p in sys.path if p.startswith("/"))
# Flags that write, create or truncate; `open` events carry them even when `mode` is None (os.open).
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND | os.O_EXCL
_TMPFILE = getattr(os, "O_TMPFILE", 0)  # includes O_DIRECTORY's bit, so it is matched whole
_DENIED_PREFIXES = (
    "socket.",
    "subprocess.",
    "ctypes.",
    "os.exec",
    "os.fork",
    "os.posix_spawn",
    "os.spawn",
    "os.kill",
    "os.putenv",
    "os.unsetenv",
    "pty.",
    "shutil.",
    "urllib.",
    "http.",
    "ftplib.",
    "smtplib.",
    "telnetlib.",
    "poplib.",
    "imaplib.",
    "nntplib.",
    "webbrowser.",
    "sqlite3.",
    "winreg.",
    "msvcrt.",
    "resource.",
    "mmap.",
    "signal.",
    "_thread.",
)
_DENIED_EVENTS = frozenset(
    {
        "os.system",
        "os.chdir",
        "os.chmod",
        "os.chown",
        "os.chflags",
        "os.link",
        "os.symlink",
        "os.mkdir",
        "os.remove",
        "os.rename",
        "os.rmdir",
        "os.truncate",
        "os.utime",
        "os.setxattr",
        "os.removexattr",
        "os.listxattr",
        "os.getxattr",
        "os.mkfifo",
        "os.mknod",
        "os.startfile",
        "os.setuid",
        "os.setgid",
        "sys.addaudithook",
        "sys.setprofile",
        "sys.settrace",
        "sys.remote_exec",
        "sys._current_frames",
        "sys._current_exceptions",
        "code.__new__",
        "function.__new__",
        "setopencode",
        "cpython.remove_audit_hooks",
        "cpython.PyInterpreterState_Clear",
        "gc.get_referrers",
        "gc.get_referents",
        "gc.get_objects",
    }
)
# Attribute reads CPython audits: each hands out a frame, and from a frame `f_back` walks up to ours.
_FRAME_ATTRIBUTES = frozenset({"tb_frame", "gi_frame", "cr_frame", "ag_frame"})
_ALLOWED_IMPORTS = frozenset(CONFIG["allowed_imports"])
_DIR_EVENTS = frozenset({"os.listdir", "os.scandir", "glob.glob"})


def _audit_open(
    args: tuple[Any, ...],
    _roots=_READ_ROOTS,
    _write_flags=_WRITE_FLAGS,
    _tmpfile=_TMPFILE,
    _str=str,
    _bytes=bytes,
    _int=int,
    _isinstance=isinstance,
    _error=PermissionError,
):
    """The `open` event: reading the standard library (imports, tracebacks) is harmless; nothing else is."""
    path, mode, flags = args[0], args[1], args[2]
    if _isinstance(path, _int):
        raise _error("sandbox: opening a file descriptor is not allowed")
    if _isinstance(path, _bytes):
        path = path.decode("utf-8", "replace")
    if (
        _isinstance(path, _str)
        and (mode is None or mode == "r" or mode == "rb")
        and _isinstance(flags, _int)
        and not flags & _write_flags
        and not (_tmpfile and flags & _tmpfile == _tmpfile)
        and path.startswith(_roots)
        and "/.." not in path
    ):
        return
    raise _error(f"sandbox: opening files is not allowed except to read the standard library ({path!r})")


def _audit(
    event: str,
    args: tuple[Any, ...],
    _open=_audit_open,
    _denied=_DENIED_EVENTS,
    _prefixes=_DENIED_PREFIXES,
    _roots=_READ_ROOTS,
    _imports=_ALLOWED_IMPORTS,
    _dirs=_DIR_EVENTS,
    _frames=_FRAME_ATTRIBUTES,
    _str=str,
    _isinstance=isinstance,
    _error=PermissionError,
    _value_error=ValueError,
    _len=len,
):
    # Everything this hook uses is bound as a default argument: user code can rebind module globals
    # and builtins, but not these (replacing __defaults__ or __code__ is itself an audited event).
    if event == "open":
        return _open(args)
    if event in _dirs:
        where: Any = args[0] if args else None
        if _isinstance(where, _str) and where.startswith(_roots) and "/.." not in where:
            return
        raise _error("sandbox: listing directories is not allowed")
    if event == "import":
        name = args[0]
        if _isinstance(name, _str) and (name in _imports or name.split(".")[0] in _imports):
            return
        raise _error(f"sandbox: importing {name!r} is not allowed")
    if event == "object.__getattr__" and _len(args) >= 2 and args[1] in _frames:
        raise _error("sandbox: frames are not available")
    if event.startswith("sys._getframe"):
        # ValueError is what sys._getframe raises past the top of the stack: stdlib helpers that look
        # at their caller's module (namedtuple, enum, typing) catch it and fall back to a default.
        raise _value_error("sandbox: frames are not available")
    if (
        event == "object.__setattr__"
        and _len(args) >= 2
        and args[1] in ("__code__", "__defaults__", "__kwdefaults__", "__globals__", "__closure__")
    ):
        raise _error("sandbox: rewriting functions is not allowed")
    if event in _denied or event.startswith(_prefixes):
        raise _error(f"sandbox: {event} is not allowed")


# SUBMIT is defined in a namespace of its own, so its __globals__ lead nowhere near the protocol.
_SUBMIT_NAMESPACE = {"__builtins__": __builtins__, "OUTPUT_NAMES": tuple(CONFIG.get("output_names") or ())}
exec(
    compile(
        '''
class _Final(BaseException):
    """SUBMIT's control flow: unwinds user code like StopIteration, past `except Exception`."""


def SUBMIT(*args, **kwargs):
    # With declared output fields, positional values map to them in order (DSPy's typed SUBMIT);
    # without, a single value is wrapped as {"output": value}.
    if OUTPUT_NAMES:
        if len(args) > len(OUTPUT_NAMES):
            raise TypeError(f"SUBMIT takes {len(OUTPUT_NAMES)} values: {', '.join(OUTPUT_NAMES)}")
        values = dict(zip(OUTPUT_NAMES, args, strict=False))
        values.update(kwargs)
        missing = [n for n in OUTPUT_NAMES if n not in values]
        if missing:
            raise TypeError(f"SUBMIT is missing: {', '.join(missing)}")
        raise _Final(values)
    if kwargs:
        raise _Final(kwargs)
    raise _Final({"output": args[0] if len(args) == 1 else list(args)})
''',
        "<sandbox-submit>",
        "exec",
    ),
    _SUBMIT_NAMESPACE,
)


# Host tools (`PythonInterpreter(tools=...)`): each is a stub that sends `{"id", "name", "args", "kwargs"}` as
# one JSON line on its own pipe and waits for the line with the same id, `{"id", "result"}` or
# `{"id", "error"}`. The pipe is not the reply channel and carries no key: writing to it directly only
# calls a registered tool with JSON arguments, which the stubs already allow; the host checks both.
_TOOL_NAMESPACE: dict[str, Any] = {
    "__builtins__": __builtins__,
    "TOOL_FDS": tuple(CONFIG.get("tool_fds") or ()),
    "_read": os.read,
    "_write": os.write,
    "_dumps": json.dumps,
    "_loads": json.loads,
}
exec(
    compile(
        """
_state = {"last_id": 0, "pending": b""}


def _line():
    while b"\\n" not in _state["pending"]:
        chunk = _read(TOOL_FDS[1], 65536)
        if not chunk:
            raise RuntimeError("the host closed the tool channel")
        _state["pending"] += chunk
    line, _, _state["pending"] = _state["pending"].partition(b"\\n")
    return line


def call_tool(name, args, kwargs):
    _state["last_id"] += 1
    call_id = _state["last_id"]
    try:
        request = _dumps({"id": call_id, "name": name, "args": list(args), "kwargs": kwargs})
    except (TypeError, ValueError) as exc:
        raise TypeError(f"the arguments of tool {name} must be JSON-serializable: {exc}") from None
    data = request.encode() + b"\\n"
    while data:
        data = data[_write(TOOL_FDS[0], data) :]
    while True:  # lines for other ids can only be replies to requests user code wrote itself
        reply = _loads(_line())
        if isinstance(reply, dict) and reply.get("id") == call_id:
            break
    if "error" in reply:
        error = reply["error"]
        raise RuntimeError(f"{error.get('type')}: {error.get('message')}")
    return reply.get("result")


def make_tool(name):
    def tool(*args, **kwargs):
        return call_tool(name, args, kwargs)

    tool.__name__ = tool.__qualname__ = name
    return tool
""",
        "<sandbox-tools>",
        "exec",
    ),
    _TOOL_NAMESPACE,
)
_TOOLS = {name: _TOOL_NAMESPACE["make_tool"](name) for name in CONFIG.get("tool_names") or ()}


def _refuse(value, _error=TypeError):
    raise _error("not JSON-serializable")


def _error_message(exc, _type=type, _str=str, _base=BaseException):
    try:
        return {"error": {"type": _str(_type(exc).__name__), "message": _str(exc)}}
    except _base:
        return {"error": {"type": "Exception", "message": "an exception that could not be shown"}}


def _reader(*, read=os.read, bytes_type=bytes, bytearray_type=bytearray):
    """The request line reader: its own buffering straight from fd 0, no io object user code could also read from."""
    pending = bytearray_type()

    def _line():
        while True:
            end = pending.find(b"\n")
            if end >= 0:
                line = bytes_type(pending[:end])
                del pending[: end + 1]
                return line
            chunk = read(0, 65536)
            if not chunk:
                raise SystemExit(0)  # the host closed stdin: the session is over
            pending.extend(chunk)

    return _line


def _framer(
    channel,
    key,
    *,
    write=os.write,
    sha256=hashlib.sha256,
    make_encoder=json.encoder.c_make_encoder,  # pyright: ignore[reportAttributeAccessIssue]
    escape=json.encoder.encode_basestring_ascii,
    refuse=_refuse,
    bytes_type=bytes,
    repr_=repr,
    len_=len,
    base_exception=BaseException,
):
    """The reply writer: `reply(nonce, message)` frames a message under the session key (module docstring)."""
    inner = key.ljust(64, b"\0").translate(bytes_type(b ^ 0x36 for b in range(256)))
    outer = key.ljust(64, b"\0").translate(bytes_type(b ^ 0x5C for b in range(256)))
    del key

    def _mac(data):  # HMAC-SHA256, from the C hash alone
        return sha256(outer + sha256(inner + data).digest()).digest()

    def _encode(message):
        return "".join(make_encoder({}, refuse, escape, None, ":", ",", False, False, True)(message, 0))

    def _reply(nonce, message):
        try:
            text = _encode(message)
        except base_exception:  # not JSON (or its __iter__/__repr__ misbehaved): its repr, as before
            name = "final" if "final" in message else "output"
            try:
                text = _encode({name: repr_(message[name])})
            except base_exception:
                text = '{"error": {"type": "OutputError", "message": "the result could not be converted"}}'
        payload = text.encode()  # ASCII: the encoder escapes everything else
        head = nonce + len_(payload).to_bytes(4, "big")
        # The head has its own tag so the host can trust the length before reading that many bytes.
        frame = head + _mac(head) + payload + _mac(head + payload)
        while frame:
            frame = frame[write(channel, frame) :]

    return _reply


def _runner(
    final_type,
    *,
    parse=compile,
    run=exec,
    evaluate=eval,
    expression_ast=ast.Expression,
    expr_type=ast.Expr,
    only_ast=ast.PyCF_ONLY_AST,
    string_io=io.StringIO,
    sys_module: Any = sys,
    isinstance_=isinstance,
):
    """`run(code, variables, namespace)`: one request's code, REPL-like; its reply message."""

    def _run(code, variables, namespace):
        namespace.update(variables)
        tree = parse(code, "<sandbox>", "exec", only_ast)
        last = None
        if tree.body and isinstance_(
            tree.body[-1], expr_type
        ):  # like a REPL: the last expression is the result
            last = expression_ast(tree.body.pop().value)
        buffer = string_io()
        sys_module.stdout = sys_module.stderr = buffer
        try:
            run(parse(tree, "<sandbox>", "exec"), namespace)
            result = evaluate(parse(last, "<sandbox>", "eval"), namespace) if last is not None else None
        except final_type as final:
            return {"final": final.args[0]}
        finally:
            sys_module.stdout, sys_module.stderr = sys_module.__stdout__, sys_module.__stderr__
        if result is None:
            return {"output": buffer.getvalue()}
        return {"output": result}

    return _run


def _serve(
    channel,
    submit,
    final_type,
    tools,
    *,
    fromhex=bytes.fromhex,
    decoder=json.decoder.JSONDecoder,
    make_encoder=json.encoder.c_make_encoder,  # pyright: ignore[reportAttributeAccessIssue]
    set_hook=sys.addaudithook,
    audit=_audit,
    reader=_reader,
    framer=_framer,
    runner=_runner,
    type_of=type,
    base_exception=BaseException,
    syntax_error=SyntaxError,
    memory_error=MemoryError,
    recursion_error=RecursionError,
    error_message=_error_message,
):
    # Everything used here and in the reader, framer and runner it builds is a default argument or a
    # local, bound before user code runs; see the module docstring for why. Besides this module's own,
    # the only Python functions they call are user code's (its results' __repr__, its exceptions'
    # __str__): those can decide what a reply says, never how it is framed. The C scanner keeps its
    # own references to float, int, ...
    scan = decoder().scan_once  # pyright: ignore[reportAttributeAccessIssue]
    if make_encoder is None or type_of(scan).__module__ != "_json":
        raise SystemExit("the sandbox needs CPython's _json accelerator")
    line_of = reader()
    reply = framer(channel, fromhex(line_of().decode()))
    run = runner(final_type)
    namespace = {"__name__": "__main__", **tools, "SUBMIT": submit}
    set_hook(audit)
    first = True
    while True:
        line = line_of()
        nonce, text = fromhex(line[:32].decode()), line[33:].decode("utf-8")
        if first:
            first = False
            reply(nonce, {"ready": True})
            continue
        message = None
        try:
            request = scan(text, 0)[0]
            message = run(request["code"], request.get("variables") or {}, namespace)
        except syntax_error as exc:
            message = {"error": {"type": "SyntaxError", "message": f"{exc.msg} (line {exc.lineno})"}}
        except memory_error:
            message = {"error": {"type": "MemoryError", "message": "the code exceeded the memory limit"}}
        except recursion_error:
            message = {"error": {"type": "RecursionError", "message": "maximum recursion depth exceeded"}}
        except base_exception as exc:
            message = error_message(exc)
        reply(nonce, message)
        message = None


del _watch_parent
_serve(_BOOT.pop(), _SUBMIT_NAMESPACE.pop("SUBMIT"), _SUBMIT_NAMESPACE["_Final"], _TOOLS)
