"""A real `provost serve` for the tests, and a small HTTP proxy in front of it that records what
the client sends and can fail the first requests (to test the client's retries)."""

from __future__ import annotations

import http.client
import json
import os
import secrets
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

REPO = Path(__file__).resolve().parents[3]


def provost_binary() -> Path:
    path = Path(os.environ.get("PROVOST_BIN", REPO / "target" / "debug" / "provost"))
    if not path.exists():
        raise RuntimeError(f"{path} is missing: build it with `cargo build -p provost --locked`")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ProvostServer:
    """`provost serve` on a free port with a new SQLite database and an HS256 secret of its own."""

    def __init__(self, workdir: Path) -> None:
        self.binary = provost_binary()
        self.database_url = f"sqlite://{workdir / 'provost.db'}?mode=rwc"
        self.secret = secrets.token_hex(32)
        self.url = f"http://127.0.0.1:{free_port()}"
        self._log = open(workdir / "serve.log", "wb")
        self._process = subprocess.Popen(
            [
                str(self.binary),
                "serve",
                "--listen",
                self.url.removeprefix("http://"),
                # Changes made by the CLI are seen within the poll interval; a check asking for a
                # revision not reached waits at most the revision wait.
                "--poll-interval",
                "300ms",
                "--revision-wait",
                "2s",
            ],
            env=self._env(),
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self._wait_healthy()

    def _env(self) -> dict[str, str]:
        return {
            **os.environ,
            "PROVOST_DATABASE_URL": self.database_url,
            "PROVOST_JWT_SECRET": self.secret,
            "PROVOST_LOG": "warn",
        }

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"provost serve exited {self._process.returncode}: see serve.log")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError("provost serve did not answer /healthz within 60 s")

    def token(self, user: str, *flags: str) -> str:
        """A JWT for `user` (`--superuser`, `--staff`), minted by `provost token`."""
        out = self.cli("token", "--user", user, "--ttl", "2h", *flags)
        return out.strip()

    def cli(self, *args: str) -> str:
        """Runs the `provost` CLI on the server's database (as an operator would)."""
        done = subprocess.run(
            [str(self.binary), *args], env=self._env(), capture_output=True, text=True, check=True
        )
        return done.stdout

    def stop(self) -> None:
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
        self._log.close()


@dataclass
class Seen:
    """A request the proxy received."""

    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    authorization: str | None


@dataclass
class Proxy:
    """Forwards to `upstream`; the first `fail` requests are answered 503 (Provost's error body),
    or, with `drop`, have their connection closed without an answer."""

    upstream: str
    fail: int = 0
    drop: bool = False
    seen: list[Seen] = field(default_factory=list)

    def __post_init__(self) -> None:
        proxy = self
        upstream = urlsplit(self.upstream)

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                url = urlsplit(self.path)
                proxy.seen.append(
                    Seen(
                        self.command,
                        url.path,
                        parse_qs(url.query),
                        json.loads(raw) if raw else None,
                        self.headers.get("Authorization"),
                    )
                )
                if proxy.fail > 0:
                    proxy.fail -= 1
                    if proxy.drop:
                        self.close_connection = True
                        self.connection.shutdown(socket.SHUT_RDWR)
                        return
                    body = b'{"error":{"code":"database_unavailable","message":"down for the test"}}'
                    self.send_response(503)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                conn = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                conn.request(self.command, self.path, body=raw or None, headers=headers)
                answer = conn.getresponse()
                data = answer.read()
                self.send_response(answer.status)
                for k, v in answer.getheaders():
                    if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                conn.close()

            do_GET = do_POST = do_PUT = do_DELETE = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def calls(self, path: str) -> list[Seen]:
        return [s for s in self.seen if s.path == path]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
