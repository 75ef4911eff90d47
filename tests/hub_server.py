"""A local HTTP server that answers like the Hugging Face hub for a few models.

It serves what ``huggingface_hub`` asks for when it lists and downloads a model: the
model's revision and file list (``/api/models/ID/revision/REV``), file metadata (HEAD
``/ID/resolve/REV/FILE``: commit, ETag, size) and the files themselves, with byte
ranges so that an interrupted download can resume. Every request is recorded. Point
the client at it with ``HF_ENDPOINT``.
"""

from __future__ import annotations

import hashlib
import json
import re
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit


@dataclass
class Request:
    method: str
    path: str
    range: str | None


@dataclass
class FakeHub:
    """Models (hub id -> {file path: bytes}) served at :attr:`url`."""

    models: dict[str, dict[str, bytes]]
    sha: str = "0123456789abcdef0123456789abcdef01234567"
    requests: list[Request] = field(default_factory=list)
    stall: dict[str, int] = field(default_factory=dict)
    """File path -> bytes after which its download stops until :attr:`release` is set."""
    release: threading.Event = field(default_factory=threading.Event)
    unavailable: set[str] = field(default_factory=set)
    """Files listed but answered with 404 (a download that cannot finish)."""
    xet: bool = False
    """Announce the files as stored with Xet (as the hub does for large files); the Xet
    token route then answers 404, so a client that tries the Xet protocol fails."""
    url: str = ""

    def gets_of(self, file_path: str) -> list[Request]:
        return [r for r in self.requests if r.method == "GET" and r.path.endswith("/" + file_path)]


def folder_files(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` by its relative path (what the fake hub serves for a model)."""
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def _handler(hub: FakeHub) -> type[BaseHTTPRequestHandler]:
    api = re.compile(r"^/api/models/(?P<repo>[^/]+/[^/]+)(?:/revision/(?P<rev>[^/]+))?$")
    resolve = re.compile(r"^/(?P<repo>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<file>.+)$")

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def _record(self) -> str:
            path = unquote(urlsplit(self.path).path)
            hub.requests.append(Request(self.command, path, self.headers.get("Range")))
            return path

        def _not_found(self, code: str) -> None:
            self.send_response(404)
            self.send_header("X-Error-Code", code)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def _file(self, path: str) -> tuple[str, bytes] | None:
            match = resolve.match(path)
            if not match or match["repo"] not in hub.models:
                self._not_found("RepoNotFound")
                return None
            data = hub.models[match["repo"]].get(match["file"])
            if data is None or match["file"] in hub.unavailable:
                self._not_found("EntryNotFound")
                return None
            return match["file"], data

        def _file_headers(self, data: bytes) -> None:
            self.send_header("X-Repo-Commit", hub.sha)
            self.send_header("ETag", '"' + hashlib.sha256(data).hexdigest() + '"')
            if hub.xet:
                self.send_header("X-Xet-Hash", hashlib.sha256(b"xet" + data).hexdigest())
                self.send_header("X-Xet-Refresh-Route", f"{hub.url}/api/xet-read-token/{hub.sha}")

        def do_HEAD(self) -> None:
            found = self._file(self._record())
            if found is None:
                return
            self.send_response(200)
            self._file_headers(found[1])
            self.send_header("Content-Length", str(len(found[1])))
            self.end_headers()

        def do_GET(self) -> None:
            path = self._record()
            match = api.match(path)
            if match:
                files = hub.models.get(match["repo"])
                if files is None:
                    self._not_found("RepoNotFound")
                    return
                body = json.dumps(
                    {
                        "id": match["repo"],
                        "modelId": match["repo"],
                        "sha": hub.sha,
                        "siblings": [{"rfilename": name, "size": len(data)} for name, data in files.items()],
                    }
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            found = self._file(path)
            if found is None:
                return
            name, data = found
            start = 0
            wanted = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
            if wanted:
                start = int(wanted.group(1))
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            else:
                self.send_response(200)
            self._file_headers(data)
            self.send_header("Content-Length", str(len(data) - start))
            self.end_headers()
            body = data[start:]
            try:
                if name in hub.stall:
                    cut = max(0, hub.stall[name] - start)
                    self.wfile.write(body[:cut])
                    self.wfile.flush()
                    hub.release.wait(120)
                    body = body[cut:]
                self.wfile.write(body)
            except OSError:  # the client went away
                pass

    return Handler


@contextmanager
def serve_hub(hub: FakeHub) -> Iterator[FakeHub]:
    """Run ``hub`` on 127.0.0.1 (any free port) while the block runs."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(hub))
    server.daemon_threads = True
    hub.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hub
    finally:
        hub.release.set()
        server.shutdown()
        server.server_close()


@dataclass
class ConnectionCounter:
    """A TCP port that accepts connections and closes them at once (``answer=False``: keeps them
    open without a word), counting them: a client that retries shows up as more than one."""

    answer: bool = True
    count: int = 0
    url: str = ""


@contextmanager
def serve_silence(counter: ConnectionCounter) -> Iterator[ConnectionCounter]:
    listener = socket.create_server(("127.0.0.1", 0))
    counter.url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            counter.count += 1
            if counter.answer:
                conn.close()
            else:
                held.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield counter
    finally:
        stop.set()
        thread.join()
        listener.close()
        for conn in held:
            conn.close()
