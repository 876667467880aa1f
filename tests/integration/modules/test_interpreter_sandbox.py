"""Hostile generated code against the sandbox: each test is an attack that must fail, or ordinary code
that must work. The sandbox is a real child process, so these tests take a few seconds."""

from __future__ import annotations

import os
import pwd
import resource
import secrets
import shutil
import socket
import stat
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dspy_ash.errors import ConfigurationError
from dspy_ash.modules import _interpreter as interpreter_module
from dspy_ash.modules._interpreter import (
    CodeExecutionError,
    CodeInterpreterError,
    FinalOutput,
    PythonInterpreter,
    SandboxIsolationError,
    SandboxIsolationWarning,
)


@pytest.fixture
def sandbox() -> Iterator[PythonInterpreter]:
    interpreter = PythonInterpreter(timeout=3, memory_mb=256)
    yield interpreter
    interpreter.shutdown()


@pytest.fixture
def secret_file() -> Iterator[Path]:
    fd, name = tempfile.mkstemp(prefix="host-secret-")
    os.write(fd, b"TOP-SECRET")
    os.close(fd)
    yield Path(name)
    os.unlink(name)


def test_math_code_returns_last_expression_printed_output_and_submit(sandbox: PythonInterpreter) -> None:
    assert sandbox.execute("import math\nx = math.comb(10, 3)\nx * 2") == 240
    assert sandbox.execute("print('total', x)") == "total 120\n"
    assert sandbox.execute("from fractions import Fraction\nstr(Fraction(1, 3) + Fraction(1, 6))") == "1/2"
    assert sandbox.execute("SUBMIT({'answer': x})") == FinalOutput({"output": {"answer": 120}})
    assert sandbox.execute("y", variables={"y": [1, 2]}) == [1, 2]


def test_errors_are_reported_as_execution_errors(sandbox: PythonInterpreter) -> None:
    with pytest.raises(CodeExecutionError, match="ZeroDivisionError: division by zero"):
        sandbox.execute("1/0")
    with pytest.raises(SyntaxError):
        sandbox.execute("def f(:\n  pass")
    assert sandbox.execute("1 + 1") == 2  # the session survives a failed execution


@pytest.mark.parametrize(
    "code",
    [
        "open({path!r}).read()",
        "import io; io.open_code({path!r}).read()",
        "import os; os.read(os.open({path!r}, os.O_RDONLY), 100)",
        "open('/usr/lib/../..' + {path!r}).read()",
        "import pathlib; pathlib.Path({path!r}).read_text()",
    ],
)
def test_cannot_read_a_host_file(sandbox: PythonInterpreter, secret_file: Path, code: str) -> None:
    with pytest.raises(CodeExecutionError) as info:
        sandbox.execute(code.format(path=str(secret_file)))
    assert "TOP-SECRET" not in str(info.value)


def test_cannot_read_etc_passwd_or_list_directories(sandbox: PythonInterpreter) -> None:
    for code in [
        "open('/etc/passwd').read()",
        "import os; os.listdir('/')",
        "import os; os.listdir('.')",
        "open('/proc/self/environ', 'rb').read()",
        "open('/proc/1/cmdline', 'rb').read()",
        "import glob; glob.glob('/etc/*')",
    ]:
        with pytest.raises(CodeExecutionError, match="PermissionError"):
            sandbox.execute(code)


def test_cannot_write_files(sandbox: PythonInterpreter) -> None:
    with pytest.raises(CodeExecutionError):
        sandbox.execute("open('out.txt', 'w').write('x')")
    with pytest.raises(CodeExecutionError):
        sandbox.execute("import os; os.mkdir('d')")


def test_cannot_open_a_socket_even_to_loopback(sandbox: PythonInterpreter) -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    accepted: list[object] = []
    server.settimeout(3)
    thread = threading.Thread(target=lambda: accepted.append(_accept(server)))
    thread.start()
    try:
        for code in [
            f"import socket; socket.create_connection(('127.0.0.1', {port}))",
            f"import _socket; _socket.socket().connect(('127.0.0.1', {port}))",
            f"import urllib.request; urllib.request.urlopen('http://127.0.0.1:{port}')",
        ]:
            with pytest.raises(CodeExecutionError):
                sandbox.execute(code)
    finally:
        thread.join()
        server.close()
    assert accepted == [None]  # nobody connected


def _accept(server: socket.socket) -> object:
    try:
        conn, _ = server.accept()
    except TimeoutError:
        return None
    conn.close()
    return "connected"


def test_cannot_spawn_processes_or_escape_via_ctypes(sandbox: PythonInterpreter) -> None:
    for code in [
        "import os; os.system('id')",
        "import subprocess; subprocess.run(['id'])",
        "import os; os.fork()",
        "import posix; posix.system('id')",
        "import os; os.posix_spawn('/bin/id', ['id'], {})",
        "import _thread; _thread.start_new_thread(print, ())",
        "import ctypes",
        "import os; os.execv('/bin/sh', ['sh'])",
        "import _posixsubprocess",
        "import os; os.kill(1, 9)",
    ]:
        with pytest.raises(CodeExecutionError, match=r"PermissionError|not allowed|can't start new thread"):
            sandbox.execute(code)


def test_cannot_disable_the_audit_hook(sandbox: PythonInterpreter) -> None:
    # Another hook can only add refusals: ours still runs after it.
    sandbox.execute("import sys; sys.addaudithook(lambda *a: None)")
    with pytest.raises(CodeExecutionError, match="PermissionError"):
        sandbox.execute("open('/etc/passwd').read()")
    # The hook's state cannot be reached (gc) nor its code or defaults rewritten.
    for code in [
        "import gc; gc.get_objects()",
        "def g(): pass\ng.__code__ = (lambda: None).__code__",
        "def g(x=1): pass\ng.__defaults__ = (2,)",
        "import builtins; builtins.isinstance = lambda *a: True\nopen('/etc/passwd').read()",
    ]:
        with pytest.raises(CodeExecutionError):
            sandbox.execute(code)


def test_cannot_outlive_its_time_limit() -> None:
    interpreter = PythonInterpreter(timeout=1)
    try:
        for code in ["while True: pass", "import time; time.sleep(60)"]:
            started = time.perf_counter()
            with pytest.raises(CodeExecutionError, match="TimeoutError"):
                interpreter.execute(code)
            assert time.perf_counter() - started < 4
        pid = interpreter._proc.pid if interpreter._proc else None
        assert pid is None  # the child was killed, not left running
        assert interpreter.execute("2 + 2") == 4  # a fresh session starts on demand
    finally:
        interpreter.shutdown()


def test_cannot_exhaust_host_memory(sandbox: PythonInterpreter) -> None:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(CodeExecutionError, match="MemoryError"):
        sandbox.execute("blocks = []\nwhile True: blocks.append(bytearray(50 * 1024 * 1024))")
    with pytest.raises(CodeExecutionError, match="MemoryError"):
        sandbox.execute("x = bytearray(4 * 1024 ** 3)")
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert after - before < 100 * 1024  # the host grew by less than 100 MB (ru_maxrss is in KB)


def test_output_flood_is_cut_off() -> None:
    interpreter = PythonInterpreter(timeout=3, max_output_bytes=10_000)
    try:
        with pytest.raises(CodeExecutionError, match="OutputError"):
            interpreter.execute("'x' * 100_000")
    finally:
        interpreter.shutdown()


def test_environment_is_empty_and_workdir_is_fresh(sandbox: PythonInterpreter) -> None:
    os.environ["DSPY_ASH_TEST_SECRET"] = "leak"
    try:
        # Python itself may set LC_CTYPE (locale coercion); nothing of the host's environment is passed.
        assert set(sandbox.execute("import os; dict(os.environ)")) <= {"LC_CTYPE"}
    finally:
        del os.environ["DSPY_ASH_TEST_SECRET"]
    assert sandbox.execute("import os; os.getcwd()").startswith(tempfile.gettempdir())


async def test_async_execution_and_concurrent_sessions() -> None:
    import asyncio

    async def run(i: int) -> int:
        async with PythonInterpreter(timeout=5) as interp:
            return await interp.aexecute(f"import time; time.sleep(0.3); {i} * 10")

    started = time.perf_counter()
    assert await asyncio.gather(*(run(i) for i in range(4))) == [0, 10, 20, 30]
    assert time.perf_counter() - started < 3


def test_defence_in_depth_layers_are_active(sandbox: PythonInterpreter) -> None:
    """Layers that hold even if the audit hook were bypassed: no root, and (where unshare works) no network."""
    if os.geteuid() == 0:
        assert sandbox.execute("import os; os.getuid()") == 65534
    else:
        assert (
            sandbox.execute("import os; os.getuid()") == os.geteuid()
        )  # not root, not even in its namespace
    if os.environ.get("CI") == "true":
        assert sandbox.network_isolated, "CI machines have unshare and user namespaces"
    if not sandbox.network_isolated:
        pytest.skip("unshare is missing or refused here: no network namespace to check")
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(2)
    port = server.getsockname()[1]
    accepted: list[object] = []
    thread = threading.Thread(target=lambda: accepted.append(_accept(server)))
    thread.start()
    try:
        # The sandboxed code itself cannot connect (the audit hook refuses sockets) ...
        with pytest.raises(CodeExecutionError):
            sandbox.execute(f"import _socket\n_socket.socket().connect(('127.0.0.1', {port}))")
        # ... and beneath the hook the child lives in another network namespace with nothing but `lo`.
        assert sandbox._proc is not None
        child = sandbox._proc.pid
        assert os.readlink(f"/proc/{child}/ns/net") != os.readlink("/proc/self/ns/net")
        devices = Path(f"/proc/{child}/net/dev").read_text().splitlines()[2:]
        assert [line.split(":")[0].strip() for line in devices] == ["lo"]
        # The same wrapper around a plain (hook-less) Python: connecting to the listening socket fails.
        probe = subprocess.run(
            [
                *interpreter_module._network_wrapper(),
                sys.executable,
                "-I",
                "-c",
                "import socket, sys\n"
                "names = [n for _, n in socket.if_nameindex()]\n"
                "try:\n"
                f"    socket.create_connection(('127.0.0.1', {port}), timeout=1)\n"
                "    print('connected', names)\n"
                "except OSError as exc:\n"
                "    print('refused', exc.errno, names)\n",
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        assert probe.stdout.split()[0] == "refused", probe.stdout
        assert probe.stdout.split(maxsplit=2)[2].strip() == "['lo']"
    finally:
        thread.join()
        server.close()
    assert accepted == [None]  # nobody connected


def test_typed_submit_maps_values_to_output_fields() -> None:
    with PythonInterpreter(output_fields=[{"name": "answer"}, {"name": "unit", "type": "str"}]) as interp:
        assert interp.execute("SUBMIT(42, unit='m')") == FinalOutput({"answer": 42, "unit": "m"})
        with pytest.raises(CodeExecutionError, match="SUBMIT is missing: unit"):
            interp.execute("SUBMIT(1)")


def test_dspy_access_options_are_refused_not_ignored() -> None:
    from dspy_ash.errors import UnsupportedFeatureError

    with pytest.raises(UnsupportedFeatureError, match="enable_read_paths"):
        PythonInterpreter(enable_read_paths=["/etc"])
    PythonInterpreter(enable_network_access=None, sync_files=True).shutdown()  # neutral options are fine


def test_sandbox_dies_with_its_host() -> None:
    import signal

    host = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from dspy_ash.modules._interpreter import PythonInterpreter\n"
            "p = PythonInterpreter(timeout=60)\np.start()\nprint(p._proc.pid, flush=True)\n"
            "p.execute('import time; time.sleep(600)')\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert host.stdout is not None
    pid = int(host.stdout.readline())
    time.sleep(0.5)
    host.send_signal(signal.SIGKILL)  # no cleanup runs in the host
    host.wait()
    host.stdout.close()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.1)
    assert not _alive(pid)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status") as f:
            return "\nState:\tZ" not in f.read()
    except FileNotFoundError:
        return False


# -- writes through os.open -------------------------------------------------------------------------
@pytest.fixture
def writable_stdlib_file() -> Iterator[Path]:
    """A world-writable file inside the standard library directory, the one tree the sandbox may read:
    only the audit hook (not file permissions) can stop a write to it."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    if not os.access(stdlib, os.W_OK):
        pytest.skip(f"cannot create a probe file in {stdlib} as uid {os.geteuid()}")
    path = stdlib / f"dspy_ash_sandbox_probe_{os.getpid()}_{secrets.token_hex(4)}.txt"
    path.write_bytes(b"ORIGINAL")
    path.chmod(0o666)
    yield path
    path.unlink(missing_ok=True)


@pytest.mark.parametrize(
    "flags",
    [
        "O_WRONLY | os.O_TRUNC",
        "O_RDWR",
        "O_WRONLY | os.O_APPEND",
        "O_RDONLY | os.O_TRUNC",
        "O_RDONLY | os.O_CREAT",
    ],
)
def test_os_open_cannot_write_truncate_or_append(
    sandbox: PythonInterpreter, writable_stdlib_file: Path, flags: str
) -> None:
    code = f"import os\nfd = os.open({str(writable_stdlib_file)!r}, os.{flags})\nos.write(fd, b'HACKED')"
    with pytest.raises(CodeExecutionError, match="PermissionError: sandbox"):
        sandbox.execute(code)
    assert writable_stdlib_file.read_bytes() == b"ORIGINAL"


def test_os_open_cannot_create_files(sandbox: PythonInterpreter, writable_stdlib_file: Path) -> None:
    new = writable_stdlib_file.with_suffix(".new")
    for flags in ["O_WRONLY | os.O_CREAT | os.O_EXCL", "O_RDWR | os.O_CREAT"]:
        with pytest.raises(CodeExecutionError, match="PermissionError: sandbox"):
            sandbox.execute(f"import os\nos.open({str(new)!r}, os.{flags}, 0o666)")
    if hasattr(os, "O_TMPFILE"):
        with pytest.raises(CodeExecutionError, match="PermissionError: sandbox"):
            sandbox.execute(f"import os\nos.open({str(new.parent)!r}, os.O_TMPFILE | os.O_WRONLY, 0o666)")
    assert not new.exists()
    # reading the standard library stays possible (imports, tracebacks need it), where the user the
    # sandbox runs as may reach it: as root the child drops to `nobody`, which a 0700 /root keeps out of
    # a Python installed under it (`.ci/prepare-unprivileged-user` opens such a path for CI)
    if os.geteuid() == 0 and not _others_may_reach(writable_stdlib_file):
        pytest.skip(f"nobody cannot reach {writable_stdlib_file.parent} (an ancestor lacks o+x)")
    assert (
        sandbox.execute(f"import os\nos.read(os.open({str(writable_stdlib_file)!r}, os.O_RDONLY), 8)") != ""
    )


def _others_may_reach(path: Path) -> bool:
    return all(parent.stat().st_mode & stat.S_IXOTH for parent in path.parents)


# -- forged replies ---------------------------------------------------------------------------------
FORGED = '{"output": 666}\\n{"final": {"output": 666}}\\n'


def test_writing_a_fake_reply_to_fd_1_forges_nothing(sandbox: PythonInterpreter) -> None:
    assert sandbox.execute(f"import os\nos.write(1, b'{FORGED}')\n7") == 7
    assert sandbox.execute(f"import sys\nsys.__stdout__.write('{FORGED}')\nsys.__stdout__.flush()\n8") == 8
    assert sandbox.execute("1 + 1") == 2  # the next call gets its own answer, not a shifted one
    assert sandbox.execute("3 * 3") == 9


def test_writing_a_fake_reply_to_every_descriptor_forges_nothing(sandbox: PythonInterpreter) -> None:
    code = (
        "import os\n"
        "for fd in range(21):\n"
        "    for data in (b'{FORGED}', b'\\x00' * 64 + b'{FORGED}'):\n"
        "        try:\n"
        "            os.write(fd, data)\n"
        "        except OSError:\n"
        "            pass\n"
        "7"
    ).replace("{FORGED}", FORGED)
    assert sandbox.execute(code) == 7
    assert sandbox.execute("1 + 1") == 2
    assert sandbox.execute(code) == 7
    assert sandbox.execute("'after'") == "after"


def test_frames_and_worker_globals_do_not_lead_to_the_reply_channel(sandbox: PythonInterpreter) -> None:
    for code in [
        "import sys\nsys._getframe().f_back.f_locals",
        "import sys\nsys._getframe(1)",
        "import inspect\ninspect.currentframe().f_back",
        "try:\n    1/0\nexcept Exception as e:\n    e.__traceback__.tb_frame.f_back.f_locals",
        "try:\n    SUBMIT(1)\nexcept BaseException as e:\n    e.__traceback__.tb_frame.f_back",
        "def g():\n    yield 1\ng().gi_frame.f_back",
        "async def c():\n    pass\nco = c()\nco.cr_frame",
    ]:
        with pytest.raises(CodeExecutionError, match="sandbox"):
            sandbox.execute(code)
    # Everything reachable without frames: the worker module, SUBMIT's globals, builtins, argv.
    dump = sandbox.execute(
        "import sys\n"
        "seen = [vars(sys.modules['__main__']), SUBMIT.__globals__, vars(__builtins__) "
        "if not isinstance(__builtins__, dict) else __builtins__, sys.argv, SUBMIT.__defaults__, "
        "SUBMIT.__closure__, SUBMIT.__kwdefaults__]\n"
        "repr(seen)"
    )
    key = sandbox._key
    assert key is not None
    assert key.hex() not in dump and repr(key) not in dump
    assert (
        sandbox.execute("import collections\ncollections.namedtuple('P', 'x y')(1, 2).y") == 2
    )  # stdlib still works


def test_a_finalizer_that_steals_the_next_request_cannot_forge_its_reply() -> None:
    interpreter = PythonInterpreter(timeout=2)
    thief = (
        "import os\n"
        "class Thief:\n"
        "    def __del__(self):\n"
        "        request = os.read(0, 65536)\n"  # the next request, with its nonce
        "        for fd in range(21):\n"
        "            try:\n"
        "                os.write(fd, bytes.fromhex(request[:32].decode()) + b'{\"output\": 666}' * 4)\n"
        "            except OSError:\n"
        "                pass\n"
        "Thief()"
    )
    try:
        assert interpreter.execute(thief).startswith("<__main__.Thief object")  # it dies after this reply
        # Its __del__ read the next request (nonce included) and wrote frames with that nonce: without
        # the session key they fail authentication, and the call fails clearly instead of returning 666.
        with pytest.raises(CodeInterpreterError, match="failed authentication"):
            interpreter.execute("5")
        assert interpreter.execute("6") == 6  # a fresh session: the next call is not shifted
    finally:
        interpreter.shutdown()


# -- incomplete isolation ----------------------------------------------------------------------------
@pytest.fixture
def no_unshare(monkeypatch: pytest.MonkeyPatch) -> None:
    """This machine as if `unshare` were missing, with the once-per-process warning not yet given."""
    monkeypatch.setattr(interpreter_module, "_network_wrapper", lambda: ())
    monkeypatch.setattr(interpreter_module, "_warned_incomplete_isolation", False)
    monkeypatch.delenv("DSPY_ASH_SANDBOX_REQUIRE_ISOLATION", raising=False)


def test_missing_network_isolation_warns_once_per_process(no_unshare: None) -> None:
    with pytest.warns(SandboxIsolationWarning, match="network namespace"), PythonInterpreter() as first:
        assert first.network_isolated is False
        assert first.execute("1 + 1") == 2  # it still runs, with the remaining layers
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a second interpreter in the same process stays quiet
        with PythonInterpreter() as second:
            assert second.execute("2 + 2") == 4


def test_required_isolation_refuses_to_run_without_it(
    no_unshare: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(SandboxIsolationError, match="network namespace"):
        PythonInterpreter(require_isolation=True).execute("1 + 1")
    with pytest.raises(SandboxIsolationError):
        PythonInterpreter(require_isolation=True, isolate_network=False)
    monkeypatch.setenv("DSPY_ASH_SANDBOX_REQUIRE_ISOLATION", "1")
    interp = PythonInterpreter()
    with pytest.raises(SandboxIsolationError):
        interp.execute("1 + 1")
    assert interp._proc is None  # refused before any child process started
    # an explicit False overrides the environment
    with pytest.warns(SandboxIsolationWarning), PythonInterpreter(require_isolation=False) as relaxed:
        assert relaxed.execute("3") == 3


def test_required_isolation_runs_where_it_is_complete(monkeypatch: pytest.MonkeyPatch) -> None:
    if not PythonInterpreter().network_isolated:
        pytest.skip("unshare is missing or refused here")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with PythonInterpreter(require_isolation=True) as interp:
            assert interp.execute("6 * 7") == 42


# -- the same checks as an unprivileged user ----------------------------------------------------------
CI_USER = "dspyash-ci"


def test_sandbox_works_for_an_unprivileged_user() -> None:
    """Run as root, this re-runs this file's checks as `dspyash-ci` (created by .ci/run), so the
    non-root path (user namespace, no privilege drop) is tested too. Run as non-root, the other tests
    already are that run."""
    if os.geteuid() != 0:
        pytest.skip("already unprivileged: the other tests in this file are the unprivileged run")
    in_ci = os.environ.get("CI") == "true"

    def unavailable(reason: str) -> None:
        if in_ci:
            pytest.fail(f"the unprivileged sandbox run must happen in CI: {reason}")
        pytest.skip(reason)

    try:
        user = pwd.getpwnam(CI_USER)
    except KeyError:
        unavailable(f"no user {CI_USER!r} (.ci/run creates it)")
        return
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        unavailable("setpriv (util-linux) is not installed")
        return
    repo = Path(__file__).resolve().parents[3]
    as_user = [setpriv, f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--clear-groups", "--"]
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": tempfile.gettempdir(),
        "CI": os.environ.get("CI", ""),
    }
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    probe = subprocess.run(
        [*as_user, sys.executable, "-c", "import dspy_ash.modules._interpreter"],
        capture_output=True,
        text=True,
        cwd=tempfile.gettempdir(),
        env=env,
        timeout=60,
        check=False,
    )
    if probe.returncode != 0:
        unavailable(
            f"{CI_USER} cannot run {sys.executable} with this checkout ({repo}); .ci/run grants the "
            f"directories on the way search (x) access: {probe.stderr.strip().splitlines()[-1:]}"
        )
    run = subprocess.run(
        [
            *as_user,
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-x",
            "--rootdir",
            str(repo),
            str(Path(__file__).resolve()),
            "-k",
            "not unprivileged",
        ],
        capture_output=True,
        text=True,
        cwd=tempfile.gettempdir(),
        env=env,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert " passed" in run.stdout and " failed" not in run.stdout


def test_instance_callbacks_see_each_execution_startup_tool_call_and_shutdown() -> None:
    from dspy_ash.events import BaseCallback, Event

    seen: list[tuple[str, object]] = []
    events: list[Event] = []

    class Recorder(BaseCallback):
        def _start(self, what: str, call_id: str, detail: object) -> None:
            seen.append((f"{what}_start", detail))

        def on_interpreter_execute_start(
            self, call_id: str, instance: object, inputs: dict[str, Any]
        ) -> None:
            self._start("execute", call_id, inputs["code"])

        def on_interpreter_execute_end(
            self, call_id: str, outputs: Any, exception: BaseException | None = None
        ) -> None:
            seen.append(("execute_end", outputs if exception is None else type(exception).__name__))

        def on_interpreter_startup_start(
            self, call_id: str, instance: object, inputs: dict[str, Any]
        ) -> None:
            self._start("startup", call_id, inputs)

        def on_interpreter_tool_call_start(
            self, call_id: str, instance: object, inputs: dict[str, Any]
        ) -> None:
            self._start("tool", call_id, inputs)

        def on_interpreter_tool_call_end(
            self, call_id: str, outputs: Any, exception: BaseException | None = None
        ) -> None:
            seen.append(("tool_end", outputs))

        def on_interpreter_shutdown_start(
            self, call_id: str, instance: object, inputs: dict[str, Any]
        ) -> None:
            self._start("shutdown", call_id, inputs)

    with PythonInterpreter(tools={"echo": _echo}, callbacks=[Recorder(), events.append]) as interp:
        assert interp.execute("echo(20) + 22") == 42
        with pytest.raises(CodeExecutionError):
            interp.execute("1/0")
    assert seen == [
        ("execute_start", "echo(20) + 22"),
        ("startup_start", {}),
        ("tool_start", {"tool_name": "echo", "kwargs": {"value": 20}}),
        ("tool_end", 20),
        ("execute_end", 42),
        ("execute_start", "1/0"),
        ("execute_end", "CodeExecutionError"),
        ("shutdown_start", {}),
    ]
    # The lazy startup and the tool call are reported inside the execution that caused them.
    starts = {e.kind: e for e in reversed(events) if e.phase == "start"}  # the first of each kind
    first_execute = starts["interpreter_execute"].call_id
    assert (
        starts["interpreter_startup"].parent_id == starts["interpreter_tool_call"].parent_id == first_execute
    )
    assert starts["interpreter_shutdown"].parent_id is None


def test_map_root_user_fallback_for_old_util_linux(
    monkeypatch: pytest.MonkeyPatch, secret_file: Path
) -> None:
    """util-linux < 2.38 has no --map-current-user: the child is then uid 0 inside its own user
    namespace, must not try to drop privileges there, and still has its limits and hook."""
    unshare = shutil.which("unshare")
    if os.geteuid() == 0 or unshare is None:
        pytest.skip("a non-root host's fallback (run as root, this file re-runs itself unprivileged)")
    prefix = (unshare, "--map-root-user", "--net")
    if subprocess.run([*prefix, "true"], capture_output=True, check=False).returncode != 0:
        pytest.skip("user namespaces are refused here")
    monkeypatch.setattr(interpreter_module, "_network_wrapper", lambda: prefix)
    with PythonInterpreter(timeout=3) as interp:
        assert interp.execute("import os; os.getuid()") == 0  # root only inside its namespace
        with pytest.raises(CodeExecutionError, match="PermissionError"):
            interp.execute(f"open({str(secret_file)!r}).read()")
        with pytest.raises(CodeExecutionError, match=r"PermissionError|not allowed"):
            interp.execute("import os; os.fork()")


# -- the tool bridge -------------------------------------------------------------------------------
def _fail() -> None:
    raise ValueError("invalid tool input")


def _echo(value: Any, times: int = 1) -> Any:
    return [value] * times if times != 1 else value


def test_tools_are_called_from_the_sandbox_with_json_in_and_out() -> None:
    seen: list[Any] = []

    def record(**kwargs: Any) -> object:
        seen.append(kwargs)
        return object()  # not JSON: crosses as its string

    with PythonInterpreter(tools={"echo": _echo, "fail": _fail, "record": record}) as interp:
        assert interp.execute("echo('a', 3)") == ["a", "a", "a"]
        assert interp.execute("echo(value={'k': [1, 2.5, None]})") == {"k": [1, 2.5, None]}
        code = "try:\n    fail()\nexcept RuntimeError as exc:\n    message = str(exc)\nmessage"
        assert interp.execute(code) == "ValueError: invalid tool input"
        assert str(interp.execute("record(x=1)")).startswith("<object object at")
        with pytest.raises(CodeExecutionError, match="must be JSON-serializable"):
            interp.execute("echo(object())")
        with pytest.raises(CodeExecutionError, match="TypeError"):
            interp.execute("echo(1, 2, 3, 4)")  # too many arguments: the binding error goes back to the code
    assert seen == [{"x": 1}]


def test_the_tool_pipe_only_reaches_registered_tools() -> None:
    with PythonInterpreter(tools={"echo": _echo}) as interp:
        # Raw lines on the tool pipe: garbage, an unregistered name, a host builtin. The code reads the
        # host's three answers itself, then a normal call still works.
        code = (
            "import os, json\n"
            "w, r = echo.__globals__['TOOL_FDS']\n"
            'for line in [b\'not json\\n\', b\'{"id": 99, "name": "secret"}\\n\','
            ' b\'{"id": 98, "name": "print", "args": [1]}\\n\']:\n'
            "    os.write(w, line)\n"
            "got = b''\n"
            "while got.count(b'\\n') < 3:\n"
            "    got += os.read(r, 4096)\n"
            "[json.loads(x) for x in got.splitlines()] + [echo('still fine')]"
        )
        garbage, unknown, builtin, normal = interp.execute(code)
        assert garbage["id"] is None and garbage["error"]["type"] == "JSONDecodeError"
        assert unknown == {
            "id": 99,
            "error": {"type": "CodeInterpreterError", "message": "Unknown tool: secret"},
        }
        assert builtin == {
            "id": 98,
            "error": {"type": "CodeInterpreterError", "message": "Unknown tool: print"},
        }
        assert normal == "still fine"
        assert interp.invoke_tool("echo", {"value": 5}) == 5
        with pytest.raises(CodeInterpreterError, match="Unknown tool: secret"):
            interp.invoke_tool("secret", {})
    with pytest.raises(ConfigurationError, match="identifiers"):
        PythonInterpreter(tools={"SUBMIT": _echo})


def test_an_oversized_tool_line_ends_the_session() -> None:
    with PythonInterpreter(tools={"echo": _echo}, max_output_bytes=10_000) as interp:
        with pytest.raises(CodeExecutionError, match="OutputError"):
            interp.execute(
                "import os\nos.write(echo.__globals__['TOOL_FDS'][0], b'x' * 20_000)\nimport time\ntime.sleep(5)"
            )
        assert interp.execute("echo(1)") == 1  # a new session, tools included
