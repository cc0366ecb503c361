"""A live missive for the tests: `missive serve` on a free port with a fresh
data dir, a known webhook signing secret, and its admin key; and a webhook
receiver on 127.0.0.1:0."""

from __future__ import annotations

import base64
import os
import secrets
import socket
import subprocess
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent.parent


@dataclass
class Live:
    base_url: str
    admin_key: str
    signing_secret: str


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory):
    binary = Path(os.environ.get("MISSIVE_BIN", HERE / "../../target/debug/missive")).resolve()
    data = tmp_path_factory.mktemp("missive")
    port = _free_port()
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "RUST_LOG": "warn",
        "MISSIVE__DATA_DIR": str(data),
        "MISSIVE__DATABASE__URL": f"sqlite://{data}/missive.db",
        "MISSIVE__SERVER__BIND": f"127.0.0.1:{port}",
        "MISSIVE__SERVER__SHUTDOWN_DRAIN": "0s",
        "MISSIVE__WORKER__POLL_INTERVAL": "100ms",
        "MISSIVE__CHANNELS__WEBHOOK__ALLOW_PRIVATE": "true",
        "MISSIVE__CHANNELS__WEBHOOK__SIGNING_SECRET": secret,
    }
    log = open(data / "missive.log", "wb")
    child = subprocess.Popen([str(binary), "serve"], env=env, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    try:
        end = time.monotonic() + 30
        while True:
            if child.poll() is not None:
                raise RuntimeError(
                    f"missive ({binary}) exited with {child.returncode} before it was ready:\n"
                    + (data / "missive.log").read_text()
                )
            try:
                with urllib.request.urlopen(f"{base}/readyz", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > end:
                raise RuntimeError(f"missive ({binary}) was not ready within 30 s")
            time.sleep(0.05)
        yield Live(base, (data / "admin.key").read_text().strip(), secret)
    finally:
        child.kill()
        child.wait()
        log.close()


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    url: str
    received: list[Received] = field(default_factory=list)

    def wait_for(self, n: int, seconds: float = 20) -> list[Received]:
        end = time.monotonic() + seconds
        while len(self.received) < n:
            if time.monotonic() > end:
                raise AssertionError(f"received {len(self.received)} of {n} webhooks")
            time.sleep(0.05)
        return list(self.received)


@pytest.fixture(scope="session")
def receiver():
    got: list[Received] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            got.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Receiver(f"http://127.0.0.1:{server.server_address[1]}", got)
    finally:
        server.shutdown()
        server.server_close()
