"""`dspy-ash init` then `dspy-ash serve` as a user runs them: separate processes, the default SQLite file in
the data directory, a request with the printed key, JSON log lines on stderr with no secret in them."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

import dspy_ash

SRC = Path(dspy_ash.__file__).parents[1]
KEY = re.compile(r"dak_[A-Za-z0-9_-]{20,}")


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dspy_ash.cli", *args], env=env, capture_output=True, text=True, timeout=120
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(url: str, process: subprocess.Popen[str], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "the server exited during start-up"
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError("the server did not answer in time")


def test_init_then_serve_with_the_default_database(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DSPY_ASH_HOME": str(tmp_path),
        "PYTHONPATH": str(SRC),
        "COLUMNS": "200",
    }
    env.pop("DSPY_ASH_DATABASE_URL", None)
    init = cli("init", env=env)
    assert init.returncode == 0, init.stderr
    (key,) = KEY.findall(init.stdout)
    assert (tmp_path / "dspy-ash.db").exists()  # SQLite in the data directory by default

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "dspy_ash.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_up(f"{base}/healthz", server)
        tenant = httpx.get(f"{base}/api/v1/tenant", headers={"Authorization": f"Bearer {key}"})
        assert tenant.status_code == 200
        assert tenant.json()["name"] == "default"
        assert httpx.get(f"{base}/readyz").status_code == 200
        assert 'route="/api/v1/tenant"' in httpx.get(f"{base}/metrics").text
    finally:
        server.send_signal(signal.SIGINT)
        _, stderr = server.communicate(timeout=60)
    assert server.returncode == 0, stderr
    entries = [json.loads(line) for line in stderr.splitlines() if line.strip()]
    access = [e for e in entries if e["logger"] == "dspy_ash.access"]
    routes = [e["route"] for e in access]
    assert "/healthz" in routes  # polled until it answered, perhaps more than once
    assert [r for r in routes if r != "/healthz"] == ["/api/v1/tenant", "/readyz", "/metrics"]
    assert any(e["route"] == "/api/v1/tenant" and e["tenant_id"] == tenant.json()["id"] for e in access)
    assert key not in stderr
    assert not any(e["logger"].startswith("alembic") for e in entries)  # /readyz's revision check is quiet
