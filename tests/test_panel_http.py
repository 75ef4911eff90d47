"""The panel over HTTP on the control port: real sockets against a real control server.

Only the panel's files, with exact types and headers; no listing, no traversal, no other
method; the websocket on the same port still works, and browser Origins are checked:
the daemon's own page is let in, other pages still need ``control.allowed_origins``."""

from __future__ import annotations

import asyncio
import fnmatch
import importlib.resources
import socket
import tomllib
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from test_control_support import SECRET, control_only, make_library, raw_connect, running_server
from websockets.exceptions import InvalidStatus

from livevoice.control.client import ControlClient
from livevoice.control.server import ControlServer
from livevoice.control.web import CONTENT_TYPES, MAX_PATH_CHARS, PanelFiles, own_origins
from livevoice.voices.library import VoiceLibrary

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = importlib.resources.files("livevoice") / "panel"


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> VoiceLibrary:
    return make_library(tmp_path_factory.mktemp("voices"))


@asynccontextmanager
async def server_for(library: VoiceLibrary, **changes: object) -> AsyncIterator[ControlServer]:
    async with running_server(control_only(library), **changes) as server:
        yield server


async def http(port: int, raw: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send one raw HTTP request; status, headers (lower-case names) and body of the answer
    (status 0: the server closed the connection without an answer)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(raw)
        await writer.drain()
        async with asyncio.timeout(10):
            data = await reader.read()  # the server closes after one answer
    finally:
        writer.close()
    if not data:
        return 0, {}, b""
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("iso-8859-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, body


def get(path: str, *extra: str, method: str = "GET") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", *extra, "", ""]
    return "\r\n".join(lines).encode("latin-1")


def shipped_files() -> Iterator[str]:
    for entry in SHIPPED.iterdir():
        if entry.is_file():
            yield entry.name


def test_every_panel_file_is_served_with_its_type_and_headers(library: VoiceLibrary) -> None:
    names = sorted(shipped_files())
    assert {"index.html", "panel.js", "protocol.js", "panel.css"} <= set(names)

    async def scenario() -> None:
        async with server_for(library) as server:
            for name in names:
                status, headers, body = await http(server.port, get(f"/{name}"))
                assert status == 200, name
                assert body == (SHIPPED / name).read_bytes(), name
                suffix = "." + name.rsplit(".", 1)[1]
                assert headers["content-type"] == CONTENT_TYPES[suffix]
                assert headers["content-length"] == str(len(body))
                assert headers["x-content-type-options"] == "nosniff"
                assert headers["cache-control"] == "no-cache"
                assert "frame-ancestors 'none'" in headers["content-security-policy"]
                assert "connect-src 'self'" in headers["content-security-policy"]
                assert headers["referrer-policy"] == "no-referrer"
            status, headers, body = await http(server.port, get("/?utm=1"))
            assert status == 200
            assert body == (SHIPPED / "index.html").read_bytes()
            assert headers["content-type"] == "text/html; charset=utf-8"

            # revalidation: the same ETag answers 304 with no body
            etag = headers["etag"]
            status, headers, body = await http(server.port, get("/", f"If-None-Match: {etag}"))
            assert (status, body) == (304, b"")
            assert headers["etag"] == etag
            status, _, body = await http(server.port, get("/", 'If-None-Match: "other"'))
            assert status == 200 and body

            # HEAD: the headers of GET, no body
            status, headers, body = await http(server.port, get("/panel.js", method="HEAD"))
            assert status == 200 and body == b""
            assert headers["content-length"] == str(len((SHIPPED / "panel.js").read_bytes()))

    asyncio.run(scenario())


@pytest.mark.parametrize(
    "path",
    [
        "/../pyproject.toml",
        "/..%2f..%2fpyproject.toml",
        "/%2e%2e/%2e%2e/pyproject.toml",
        "/panel/../../pyproject.toml",
        "//etc/passwd",
        "/etc/passwd",
        "/..\\..\\pyproject.toml",
        "/web.py",
        "/__init__.py",
        "/control/server.py",
        "/panel/",
        "/panel",
        "/.",
        "/..",
        "/index.html/",
        "/index.html%00.js",
        "/%ff",
        "/%",
        "/INDEX.HTML",
        "http://127.0.0.1/../pyproject.toml",
    ],
)
def test_nothing_but_the_panel_files(library: VoiceLibrary, path: str) -> None:
    async def scenario() -> None:
        async with server_for(library) as server:
            status, headers, body = await http(server.port, get(path))
            assert status == 404, (path, body)
            assert headers["content-type"] == "text/plain; charset=utf-8"
            assert body == b"not found: the livevoice panel is at /\n"

    asyncio.run(scenario())


def test_methods_sizes_and_bodies_are_refused(library: VoiceLibrary) -> None:
    async def scenario() -> None:
        async with server_for(library) as server:
            for method in ("POST", "PUT", "DELETE", "OPTIONS", "TRACE"):
                status, headers, _ = await http(server.port, get("/", method=method))
                assert status == 405, method
                assert headers["allow"] == "GET, HEAD"
            status, _, _ = await http(server.port, get("/" + "a" * MAX_PATH_CHARS))
            assert status == 414
            # the websockets parser's own limits still hold before the panel sees a request
            status, _, body = await http(server.port, get("/" + "a" * 9000))
            assert status == 414 and b"expected no more than 8192 bytes" in body, body
            status, _, body = await http(server.port, get("/", *(f"X-{i}: {i}" for i in range(200))))
            assert status == 431, body
            status, _, body = await http(
                server.port, get("/", "Content-Length: 5", method="POST")[:-2] + b"\r\nhello"
            )
            assert (status, body) == (0, b"")  # a request with a body is not even answered
            # the server is unharmed: the page and the websocket still answer
            status, _, _ = await http(server.port, get("/"))
            assert status == 200
            async with await ControlClient.connect(server.url, SECRET, event_subscriptions=0) as client:
                assert (await client.request("GetStatus"))["voice"] == "alice"

    asyncio.run(scenario())


def test_the_panels_own_origin_may_connect_other_pages_may_not(library: VoiceLibrary) -> None:
    async def scenario() -> None:
        async with server_for(library, allowed_origins=("http://localhost:8080",)) as server:
            port = server.port
            for origin in (f"http://127.0.0.1:{port}", f"http://localhost:{port}", f"http://[::1]:{port}"):
                async with await ControlClient.connect(server.url, SECRET, origin=origin) as client:
                    assert (await client.request("GetStatus"))["mode"] == "convert"
            listed = await ControlClient.connect(server.url, SECRET, origin="http://localhost:8080")
            async with listed:
                await listed.request("GetStatus")
            other_port = port + 1 if port < 65535 else port - 1
            for origin in (
                f"http://127.0.0.1:{other_port}",
                f"https://127.0.0.1:{port}",
                f"http://evil.example:{port}",
                "http://evil.example",
                "null",
            ):
                with pytest.raises(InvalidStatus) as caught:
                    await raw_connect(server.url, origin=origin)
                assert caught.value.response.status_code == 403, origin
                assert b"control.allowed_origins" in caught.value.response.body

    asyncio.run(scenario())


def test_own_origins_of_a_bound_address() -> None:
    loopback = {"http://127.0.0.1:4460", "http://localhost:4460", "http://[::1]:4460"}
    assert own_origins("127.0.0.1", 4460) == loopback
    assert own_origins("0.0.0.0", 4460) == loopback
    assert own_origins("::", 4460) == loopback
    assert own_origins("192.0.2.7", 4461) == {o.replace("4460", "4461") for o in loopback} | {
        "http://192.0.2.7:4461"
    }
    assert "http://[fe80::1]:4460" in own_origins("fe80::1", 4460)


def test_a_folder_gives_only_its_own_files_of_known_types(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<p>hi</p>")
    (tmp_path / "app.js").write_text("export {};")
    (tmp_path / ".secret.js").write_text("hidden")
    (tmp_path / "notes.txt").write_text("unknown type")
    (tmp_path / "server.py").write_text("code")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "deep.js").write_text("nested")
    files = PanelFiles.from_folder(tmp_path)
    assert sorted(files.files) == ["/", "/app.js", "/index.html"]
    assert files.respond("GET", "/").body == b"<p>hi</p>"
    assert files.respond("GET", "/sub/deep.js").status == 404
    assert files.respond("GET", "/.secret.js").status == 404
    nothing = PanelFiles()  # what an install without the panel's folder serves
    assert nothing.respond("GET", "/").body == b"this livevoice install has no browser panel files\n"


def test_the_package_ships_every_panel_file() -> None:
    """pyproject's package data names every file of livevoice/panel (so a wheel carries them)."""
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    patterns = package_data["livevoice"]
    folder = ROOT / "livevoice" / "panel"
    for path in folder.iterdir():
        relative = f"panel/{path.name}"
        assert any(fnmatch.fnmatch(relative, pattern) for pattern in patterns), relative
    served = PanelFiles.shipped().files
    assert {f"/{p.name}" for p in folder.iterdir()} <= set(served)


def test_websocket_and_page_on_one_port(library: VoiceLibrary) -> None:
    """A plain GET on the websocket's URL gets the page; an upgrade gets the protocol."""

    async def scenario() -> None:
        async with server_for(library) as server:
            with socket.create_connection(("127.0.0.1", server.port), timeout=5):
                pass
            status, _, body = await http(server.port, get("/"))
            assert status == 200 and b"<title>livevoice</title>" in body
            async with await ControlClient.connect(server.url, SECRET) as client:
                assert client.hello.rpc_version == 1

    asyncio.run(scenario())
