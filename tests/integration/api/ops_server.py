"""The service as a real uvicorn server on 127.0.0.1, in a thread of the test process, and its log lines."""

from __future__ import annotations

import contextlib
import io
import logging
import socket
import threading
import time
from collections.abc import Generator
from dataclasses import dataclass

import uvicorn
from fastapi import FastAPI

from dspy_ash.api._logging import JsonFormatter, RedactingFilter


@dataclass(frozen=True)
class LiveServer:
    base_url: str
    app: FastAPI
    log: io.StringIO  # every record logged while it ran, as the service writes them (JSON lines)

    def log_lines(self) -> list[str]:
        return self.log.getvalue().splitlines()


@contextlib.contextmanager
def capture_logs() -> Generator[io.StringIO]:
    """Every record of the process (INFO and up) as `dspy-ash serve` formats it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    saved = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(saved)


@contextlib.contextmanager
def live_server(app: FastAPI, startup_timeout: float = 30.0) -> Generator[LiveServer]:
    """Serve `app` on a free port (a socket bound here and handed to uvicorn, so no other process can
    take the port in between); stop it, lifespan and all, when the block ends."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, log_config=None, access_log=False, lifespan="on", timeout_graceful_shutdown=5
    )
    server = uvicorn.Server(config)
    with capture_logs() as stream:
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="uvicorn-test")
        thread.start()
        try:
            deadline = time.monotonic() + startup_timeout
            while not server.started:
                if not thread.is_alive() or time.monotonic() > deadline:
                    raise RuntimeError(f"the server did not start; its log:\n{stream.getvalue()}")
                time.sleep(0.02)
            yield LiveServer(f"http://127.0.0.1:{port}", app, stream)
        finally:
            server.should_exit = True
            thread.join(30)
            sock.close()
