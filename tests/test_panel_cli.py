"""``livevoice panel``: the panel's address with the secret in its fragment, as a user runs it."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import urllib.parse
from pathlib import Path

import pytest
from panel_browser import ControlOnly

from livevoice.control.panel_cli import panel_url

SECRET = "s3cr3t+/=with&odd#chars-0123456789"


@pytest.fixture
def setup(tmp_path: Path) -> Path:
    """A config (library of one voice, control port 0) and a secret file."""
    (tmp_path / "voices").mkdir()
    secret = tmp_path / "secret"
    secret.write_text(SECRET + "\n")
    secret.chmod(0o600)
    (tmp_path / "config.toml").write_text(
        f'[voices]\nlibrary = "{tmp_path / "voices"}"\n[control]\nport = 0\nsecret_file = "{secret}"\n'
    )
    return tmp_path


def panel(setup: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "livevoice.cli", "--config", str(setup / "config.toml"), "panel", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, env=env)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_url_carries_the_secret_in_its_fragment_only() -> None:
    url = panel_url("127.0.0.1", 4460, SECRET)
    parts = urllib.parse.urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path, parts.query) == ("http", "127.0.0.1:4460", "/", "")
    assert urllib.parse.parse_qs(parts.fragment) == {"secret": [SECRET]}
    assert panel_url("0.0.0.0", 4461, "x").startswith("http://127.0.0.1:4461/#")
    assert panel_url("::1", 4460, "x").startswith("http://[::1]:4460/#")


def test_panel_prints_the_address_of_a_running_daemon(setup: Path) -> None:
    with ControlOnly(setup / "config.toml") as daemon:
        result = panel(setup, "--port", str(daemon.port))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout.strip() == panel_url("127.0.0.1", daemon.port, SECRET)


def test_panel_warns_when_no_daemon_answers(setup: Path) -> None:
    port = free_port()
    result = panel(setup, "--port", str(port))
    assert result.returncode == 0
    assert result.stdout.strip() == panel_url("127.0.0.1", port, SECRET)
    assert result.stderr.startswith("livevoice: warning: no livevoice daemon answers on port")
    assert len(result.stderr.strip().splitlines()) == 1


def test_open_hands_the_browser_a_private_page_not_the_secret(setup: Path) -> None:
    """--open: the browser's command line holds only a file path; the file (mode 0600) forwards."""
    record = setup / "browser-args"
    browser = setup / "browser.sh"
    browser.write_text(f'#!/bin/sh\nprintf "%s" "$1" > {record}\n')
    browser.chmod(0o755)
    env = {**os.environ, "BROWSER": f"{browser} %s"}
    result = panel(setup, "--open", "--port", str(free_port()), env=env)
    assert result.returncode == 0, result.stderr
    opened = record.read_text()
    assert opened.startswith("file://")
    assert SECRET not in urllib.parse.unquote(opened) and "secret" not in opened.split("/")[-1]
    page = Path(urllib.parse.unquote(urllib.parse.urlsplit(opened).path))
    assert page.parent == setup  # beside the secret file
    assert stat.S_IMODE(page.stat().st_mode) == 0o600
    url = result.stdout.strip()
    assert f'content="0;url={url.replace("&", "&amp;")}"' in page.read_text()


def test_user_errors_are_one_line(setup: Path) -> None:
    (setup / "secret").chmod(0o644)
    result = panel(setup, "--port", "4460")
    assert result.returncode == 2
    assert result.stderr.startswith("livevoice: error: the secret file") and "chmod 600" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    (setup / "secret").chmod(0o600)
    result = panel(setup, "--port", "70000")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "livevoice: error: port 70000 is not a port the daemon can listen on (1-65535); give --port"
    )
    result = panel(setup)  # port 0 in the config: the daemon's real port is not known
    assert result.returncode == 2 and "give --port" in result.stderr
