"""The browser panel's files, served over plain HTTP on the control port.

A browser (or an OBS custom browser dock) opens ``http://127.0.0.1:4460/``; the same
port answers websocket handshakes for the control protocol. This module is the pure
core of the HTTP side: :class:`PanelFiles` holds the panel's files (read once, from
the ``panel`` folder shipped inside the package) and :meth:`PanelFiles.respond` turns
a request line into an :class:`HttpAnswer`. The server only adapts it to its socket.

What it guarantees:

- Only the panel's own files are served, looked up by name in a table built at start
  (a fixed list of file types, regular files of one folder): a request path never
  reaches the file system, so there is no directory listing and no path traversal.
- GET and HEAD only; a request path longer than :data:`MAX_PATH_CHARS` is refused.
  Request lines, headers and bodies are limited by the websockets parser before this
  module sees a request (8 KiB lines, 128 headers, no body).
- Every answer carries its exact ``Content-Type``, ``Content-Length``, an ``ETag``
  with ``Cache-Control: no-cache`` (the browser revalidates, so a new daemon version
  is picked up at once), and headers that keep the page to itself: a Content Security
  Policy that allows only its own scripts, styles and websocket, ``nosniff``, no
  framing, no referrer.
- Nothing secret is ever served: the page learns the secret from its URL fragment,
  which browsers never send in a request.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import logging
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from importlib.resources.abc import Traversable

log = logging.getLogger(__name__)

MAX_PATH_CHARS = 1024
"""Longest request path (characters, with the query) the panel answers; longer: 414."""
MAX_FILE_BYTES = 1024 * 1024
"""Largest panel file (bytes); a bigger one is a packaging mistake."""

CONTENT_TYPES: Mapping[str, str] = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".json": "application/json",
}
"""File suffix -> Content-Type; a file of any other type is not served."""

INDEX = "index.html"
"""What ``/`` serves."""

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
"""The page may load only its own scripts, styles and images and open only its own
websocket; forms submit nowhere; no other site may frame it."""

SECURITY_HEADERS: tuple[tuple[str, str], ...] = (
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
    ("Cross-Origin-Resource-Policy", "same-origin"),
)
"""Sent with every answer, files and errors alike."""


@dataclass(frozen=True)
class PanelFile:
    """One servable file."""

    body: bytes
    content_type: str
    etag: str
    """Strong validator: a quoted prefix of the body's SHA-256."""


@dataclass(frozen=True)
class HttpAnswer:
    """What to send back: status, headers (in order) and body (empty for HEAD and 304)."""

    status: HTTPStatus
    headers: tuple[tuple[str, str], ...]
    body: bytes = b""

    def header(self, name: str) -> str | None:
        """The first header called ``name`` (any case), or None."""
        folded = name.casefold()
        return next((value for key, value in self.headers if key.casefold() == folded), None)


def _etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def _error(status: HTTPStatus, text: str, extra: tuple[tuple[str, str], ...] = ()) -> HttpAnswer:
    body = (text + "\n").encode("utf-8")
    headers = (
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Content-Length", str(len(body))),
        ("Cache-Control", "no-store"),
        *extra,
        *SECURITY_HEADERS,
    )
    return HttpAnswer(status, headers, body)


@dataclass(frozen=True)
class PanelFiles:
    """The panel's files by URL path (``/`` and ``/index.html`` are the page)."""

    files: Mapping[str, PanelFile] = field(default_factory=dict)

    @classmethod
    def from_folder(cls, folder: Traversable) -> PanelFiles:
        """Every file of a known type directly in ``folder`` (sub-folders and hidden files are left out)."""
        files: dict[str, PanelFile] = {}
        for entry in folder.iterdir():
            suffix = "." + entry.name.rsplit(".", 1)[-1] if "." in entry.name else ""
            if entry.name.startswith(".") or not entry.is_file() or suffix not in CONTENT_TYPES:
                continue
            body = entry.read_bytes()
            if len(body) > MAX_FILE_BYTES:
                raise ValueError(f"panel file {entry.name} has {len(body)} bytes; at most {MAX_FILE_BYTES}")
            files["/" + entry.name] = PanelFile(body, CONTENT_TYPES[suffix], _etag(body))
        if "/" + INDEX in files:
            files["/"] = files["/" + INDEX]
        return cls(files)

    @classmethod
    def shipped(cls) -> PanelFiles:
        """The panel shipped inside the package (``livevoice/panel``); none (and a warning
        in the log) if the install lacks it: the websocket works without it."""
        folder = importlib.resources.files("livevoice") / "panel"
        try:
            return cls.from_folder(folder)
        except OSError as err:
            log.warning("no browser panel: cannot read its files in %s (%s)", folder, err)
            return cls()

    def respond(self, method: str, target: str, if_none_match: str | None = None) -> HttpAnswer:
        """The answer to ``METHOD target`` (``target`` as in the request line, query allowed)."""
        if method not in ("GET", "HEAD"):
            return _error(
                HTTPStatus.METHOD_NOT_ALLOWED, f"{method[:20]} is not allowed here", (("Allow", "GET, HEAD"),)
            )
        if len(target) > MAX_PATH_CHARS:
            return _error(HTTPStatus.REQUEST_URI_TOO_LONG, f"request path over {MAX_PATH_CHARS} characters")
        try:
            path = urllib.parse.unquote(target.split("?", 1)[0], errors="strict")
        except UnicodeDecodeError:
            path = ""
        found = self.files.get(path)
        if found is None and not self.files:
            return _error(HTTPStatus.NOT_FOUND, "this livevoice install has no browser panel files")
        if found is None:
            return _error(HTTPStatus.NOT_FOUND, "not found: the livevoice panel is at /")
        headers = (
            ("Content-Type", found.content_type),
            ("Content-Length", str(len(found.body))),
            ("Cache-Control", "no-cache"),
            ("ETag", found.etag),
            *SECURITY_HEADERS,
        )
        if if_none_match is not None and found.etag in (tag.strip() for tag in if_none_match.split(",")):
            return HttpAnswer(HTTPStatus.NOT_MODIFIED, tuple(h for h in headers if h[0] != "Content-Length"))
        return HttpAnswer(HTTPStatus.OK, headers, b"" if method == "HEAD" else found.body)


def is_websocket_upgrade(upgrade_headers: list[str]) -> bool:
    """Whether a request's ``Upgrade`` headers ask for a websocket (else it is plain HTTP)."""
    return any("websocket" in value.casefold() for value in upgrade_headers)


def own_origins(host: str, port: int) -> frozenset[str]:
    """The Origins of the panel page served by a daemon on ``host:port``.

    The loopback names (``127.0.0.1``, ``localhost``, ``[::1]``) always; the bound
    address too when it is a specific one (not ``0.0.0.0`` or ``::``, which have no
    single name a browser would show: add those pages to ``control.allowed_origins``).
    """
    hosts = {"127.0.0.1", "localhost", "[::1]"}
    if host not in ("", "0.0.0.0", "::"):
        hosts.add(f"[{host}]" if ":" in host else host)
    return frozenset(f"http://{name}:{port}" for name in hosts)


__all__ = [
    "CONTENT_SECURITY_POLICY",
    "CONTENT_TYPES",
    "MAX_FILE_BYTES",
    "MAX_PATH_CHARS",
    "HttpAnswer",
    "PanelFile",
    "PanelFiles",
    "is_websocket_upgrade",
    "own_origins",
]
