"""The sandboxed side of `PythonInterpreter`: run as `python -I -S -c <this source> <json config>`.

It is never imported by the host. Order matters: limits, then the imports user code may use, then
dropping root, then the audit hook, and only then the first line of untrusted code. Requests and
replies are one JSON object per line on stdin/stdout; user prints go to a buffer, never to stdout.
"""

import ast
import io
import json
import os
import resource
import sys
from typing import Any

CONFIG = json.loads(sys.argv[1])
_PROTOCOL_OUT = sys.stdout.buffer  # the reply channel; user code gets its own stdout buffer
_PROTOCOL_IN = sys.stdin.buffer


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

if os.getuid() == 0:
    # Root ignores RLIMIT_NPROC and file permissions; `nobody` cannot fork past the limit below nor
    # read private host files even if the audit hook were bypassed.
    os.setgroups([])
    os.setgid(65534)
    os.setuid(65534)
_limit(resource.RLIMIT_NPROC, 0)

_READ_ROOTS = tuple(p.rstrip("/") + "/" for p in sys.path if p.startswith("/"))
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
_ALLOWED_IMPORTS = frozenset(CONFIG["allowed_imports"])
_DIR_EVENTS = frozenset({"os.listdir", "os.scandir", "glob.glob"})


def _audit(
    event: str,
    args: tuple[Any, ...],
    _denied=_DENIED_EVENTS,
    _prefixes=_DENIED_PREFIXES,
    _roots=_READ_ROOTS,
    _imports=_ALLOWED_IMPORTS,
    _dirs=_DIR_EVENTS,
    _str=str,
    _bytes=bytes,
    _int=int,
    _isinstance=isinstance,
    _error=PermissionError,
    _tuple=tuple,
):
    # Everything this hook uses is bound as a default argument: user code can rebind module globals
    # and builtins, but not these (replacing __defaults__ or __code__ is itself an audited event).
    if event == "open":
        path, mode = args[0], args[1]
        if _isinstance(path, _int):
            return  # an already-open descriptor (the interpreter's own pipes)
        if _isinstance(path, _bytes):
            path = path.decode("utf-8", "replace")
        if (
            _isinstance(path, _str)
            and (mode is None or mode == "r" or mode == "rb")
            and path.startswith(_roots)
            and "/.." not in path
        ):
            return  # reading the standard library (imports, tracebacks) is harmless
        raise _error(f"sandbox: opening files is not allowed ({path!r})")
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
    if (
        event == "object.__setattr__"
        and len(args) >= 2
        and args[1] in ("__code__", "__defaults__", "__kwdefaults__", "__globals__", "__closure__")
    ):
        raise _error("sandbox: rewriting functions is not allowed")
    if event in _denied or event.startswith(_prefixes):
        raise _error(f"sandbox: {event} is not allowed")


class _Final(BaseException):
    """SUBMIT's control flow: unwinds user code like StopIteration, past `except Exception`."""


_OUTPUT_NAMES: tuple[str, ...] = tuple(CONFIG.get("output_names") or ())


def SUBMIT(*args, **kwargs):
    # With declared output fields, positional values map to them in order (DSPy's typed SUBMIT);
    # without, a single value is wrapped as {"output": value}.
    if _OUTPUT_NAMES:
        if len(args) > len(_OUTPUT_NAMES):
            raise TypeError(f"SUBMIT takes {len(_OUTPUT_NAMES)} values: {', '.join(_OUTPUT_NAMES)}")
        values = dict(zip(_OUTPUT_NAMES, args, strict=False))
        values.update(kwargs)
        missing = [n for n in _OUTPUT_NAMES if n not in values]
        if missing:
            raise TypeError(f"SUBMIT is missing: {', '.join(missing)}")
        raise _Final(values)
    if kwargs:
        raise _Final(kwargs)
    raise _Final({"output": args[0] if len(args) == 1 else list(args)})


def _plain(value):
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return repr(value)


def _run(code, variables, namespace):
    namespace.update(variables)
    tree = ast.parse(code, "<sandbox>", "exec")
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):  # like a REPL: the last expression is the result
        last = ast.Expression(tree.body.pop().value)
    buffer = io.StringIO()
    sys.stdout = sys.stderr = buffer
    try:
        exec(compile(tree, "<sandbox>", "exec"), namespace)
        result = eval(compile(last, "<sandbox>", "eval"), namespace) if last is not None else None
    except _Final as final:
        return {"final": _plain(final.args[0])}
    finally:
        sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
    if result is None:
        return {"output": buffer.getvalue()}
    return {"output": _plain(result)}


def _reply(message):
    _PROTOCOL_OUT.write(json.dumps(message).encode() + b"\n")
    _PROTOCOL_OUT.flush()


def _main():
    namespace = {"__name__": "__main__", "SUBMIT": SUBMIT}
    sys.addaudithook(_audit)
    _reply({"ready": True})
    for line in _PROTOCOL_IN:
        request = json.loads(line)
        try:
            _reply(_run(request["code"], request.get("variables") or {}, namespace))
        except SyntaxError as exc:
            _reply({"error": {"type": "SyntaxError", "message": f"{exc.msg} (line {exc.lineno})"}})
        except MemoryError:
            _reply({"error": {"type": "MemoryError", "message": "the code exceeded the memory limit"}})
        except BaseException as exc:
            _reply({"error": {"type": type(exc).__name__, "message": str(exc)}})


_main()
