"""Hostile generated code against the sandbox: each test is an attack that must fail, or ordinary code
that must work. The sandbox is a real child process, so these tests take a few seconds."""

from __future__ import annotations

import os
import resource
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dspy_ash.modules.interpreter import CodeExecutionError, FinalOutput, PythonInterpreter


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
        assert sandbox.execute("import os; os.getuid()") != 0
    if sandbox.network_isolated:
        # an empty network namespace has no interfaces, not even a working loopback
        assert sandbox.execute("import os; os.getpid() > 0") is True


def test_typed_submit_maps_values_to_output_fields() -> None:
    with PythonInterpreter(output_fields=[{"name": "answer"}, {"name": "unit", "type": "str"}]) as interp:
        assert interp.execute("SUBMIT(42, unit='m')") == FinalOutput({"answer": 42, "unit": "m"})
        with pytest.raises(CodeExecutionError, match="SUBMIT is missing: unit"):
            interp.execute("SUBMIT(1)")


def test_dspy_access_options_are_refused_not_ignored() -> None:
    from dspy_ash.errors import UnsupportedFeatureError

    with pytest.raises(UnsupportedFeatureError, match="enable_read_paths"):
        PythonInterpreter(enable_read_paths=["/etc"])
    with pytest.raises(UnsupportedFeatureError):
        PythonInterpreter(tools={"f": print})
    PythonInterpreter(enable_network_access=None, sync_files=True).shutdown()  # neutral options are fine


def test_sandbox_dies_with_its_host() -> None:
    import signal
    import subprocess
    import sys

    host = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from dspy_ash.modules.interpreter import PythonInterpreter\n"
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
