"""The per-install secret file and the challenge-response."""

from __future__ import annotations

import base64
import hashlib
import os
import stat
import threading
from pathlib import Path

import pytest

from livevoice.config import Config, ControlConfig
from livevoice.control import auth
from livevoice.control.auth import SecretFileError


def test_secret_is_created_once_private_and_atomically(tmp_path: Path) -> None:
    path = tmp_path / "cfg" / "livevoice" / "secret"
    secret = auth.load_or_create_secret(path)
    assert len(secret) >= 40
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert auth.load_or_create_secret(path) == secret
    assert auth.read_secret(path) == secret
    assert sorted(p.name for p in path.parent.iterdir()) == ["secret"]
    assert auth.load_or_create_secret(tmp_path / "other") != secret


def test_daemons_starting_together_agree_on_one_secret(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    results: list[str] = []
    barrier = threading.Barrier(8)

    def start() -> None:
        barrier.wait()
        results.append(auth.load_or_create_secret(path))

    threads = [threading.Thread(target=start) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(results)) == 1
    assert auth.read_secret(path) == results[0]
    assert [p.name for p in tmp_path.iterdir()] == ["secret"]


def test_unsafe_missing_or_empty_secret_files_are_refused(tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    with pytest.raises(SecretFileError, match="start the daemon once"):
        auth.read_secret(missing)
    shared = tmp_path / "shared"
    auth.load_or_create_secret(shared)
    os.chmod(shared, 0o644)
    with pytest.raises(SecretFileError, match=r"accessible to other users \(mode 0644\); run: chmod 600"):
        auth.read_secret(shared)
    with pytest.raises(SecretFileError):
        auth.load_or_create_secret(shared)
    short = tmp_path / "short"
    short.write_text("abc\n")
    os.chmod(short, 0o600)
    with pytest.raises(SecretFileError, match="holds 3 characters"):
        auth.read_secret(short)


def test_secret_path_follows_config_and_xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert auth.secret_path(Config()) == tmp_path / "xdg" / "livevoice" / "secret"
    configured = Config(control=ControlConfig(secret_file=str(tmp_path / "s")))
    assert auth.secret_path(configured) == tmp_path / "s"


def _b64sha(text: str) -> str:
    return base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


def test_challenge_response_is_obs_websocket_v5() -> None:
    secret, salt, challenge = "s3cret-päss", "c2FsdA==", "Y2hhbGxlbmdl"
    expected = _b64sha(_b64sha(secret + salt) + challenge)
    assert auth.auth_response(secret, salt, challenge) == expected
    derived = auth.auth_secret(secret, salt)
    assert auth.check_auth(derived, challenge, expected)
    assert not auth.check_auth(derived, challenge + "x", expected)
    assert not auth.check_auth(derived, challenge, expected[:-2])
    assert not auth.check_auth(derived, challenge, "")
    assert not auth.check_auth(derived, challenge, "ünïcode")
    assert auth.new_challenge() != auth.new_challenge()
    assert auth.new_salt() != auth.new_salt()
