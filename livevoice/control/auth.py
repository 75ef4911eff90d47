"""The per-install secret and the challenge-response that proves a client knows it.

Authentication works like obs-websocket v5, so the secret never crosses the socket:

1. the server picks a random ``salt`` (per server start) and ``challenge`` (per session)
   and sends both in Hello;
2. both sides compute ``base64(sha256(secret + salt))`` (the *auth secret*);
3. the client answers ``base64(sha256(auth_secret + challenge))``; the server compares
   it with its own in constant time.

The secret is a random text in a file (``control.secret_file``, by default
``$XDG_CONFIG_HOME/livevoice/secret``) created on the first start, mode 0600, written
atomically and never overwritten. Whoever can read that file may drive the daemon;
a file that other users can read is refused.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import os
import secrets
import stat
from pathlib import Path

from livevoice.config import Config, xdg_config_dir
from livevoice.errors import LivevoiceError

SECRET_BYTES = 32
"""Random bytes in a new secret (256 bits)."""
_MIN_SECRET_CHARS = 16


class SecretFileError(LivevoiceError):
    """The secret file is missing, unreadable, unsafe or empty."""


def secret_path(config: Config) -> Path:
    """``control.secret_file``, or ``$XDG_CONFIG_HOME/livevoice/secret``."""
    configured = config.control.secret_file
    return Path(configured).expanduser() if configured else xdg_config_dir() / "secret"


def _sha256_b64(text: str) -> str:
    return base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")


def auth_secret(secret: str, salt: str) -> str:
    """``base64(sha256(secret + salt))``: what both sides derive from the secret."""
    return _sha256_b64(secret + salt)


def auth_response(secret: str, salt: str, challenge: str) -> str:
    """What a client sends in Identify.authentication for a Hello's salt and challenge."""
    return _sha256_b64(auth_secret(secret, salt) + challenge)


def check_auth(expected_auth_secret: str, challenge: str, answer: str) -> bool:
    """Whether ``answer`` is right for the challenge (constant-time comparison)."""
    expected = _sha256_b64(expected_auth_secret + challenge)
    return hmac.compare_digest(expected.encode("ascii"), answer.encode("utf-8", errors="replace"))


def new_salt() -> str:
    """A random salt (per server start)."""
    return secrets.token_urlsafe(24)


def new_challenge() -> str:
    """A random challenge (per session)."""
    return secrets.token_urlsafe(24)


def read_secret(path: Path) -> str:
    """The secret stored in ``path``; :class:`SecretFileError` if absent, unsafe or empty."""
    try:
        info = path.stat()
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise SecretFileError(
            f"no secret file at {path}: start the daemon once to create it (livevoice run), "
            "or name another with --secret-file"
        ) from None
    except (OSError, UnicodeDecodeError) as err:
        raise SecretFileError(f"cannot read the secret file {path}: {err}") from None
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        mode = stat.S_IMODE(info.st_mode)
        raise SecretFileError(
            f"the secret file {path} is accessible to other users (mode {mode:04o}); run: chmod 600 {path}"
        )
    if len(text) < _MIN_SECRET_CHARS:
        raise SecretFileError(
            f"the secret file {path} holds {len(text)} characters; at least {_MIN_SECRET_CHARS} "
            "(delete it to get a new one)"
        )
    return text


def load_or_create_secret(path: Path) -> str:
    """The secret in ``path``, created first (mode 0600, atomically, never overwritten) if absent.

    Two daemons starting at once agree on one secret: the file is linked into place
    only if nothing is there yet, and the loser reads the winner's.
    """
    if path.exists():
        return read_secret(path)
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(secrets.token_urlsafe(SECRET_BYTES) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError as err:
        raise SecretFileError(f"cannot create the secret file {path}: {err.strerror or err}") from None
    return read_secret(path)


__all__ = [
    "SecretFileError",
    "auth_response",
    "auth_secret",
    "check_auth",
    "load_or_create_secret",
    "new_challenge",
    "new_salt",
    "read_secret",
    "secret_path",
]
