"""TTS models from the Hugging Face hub: aliases, a fast reachability check, the cache, downloads.

huggingface_hub retries a request that cannot connect five times with back-off (about
23 s) before it gives up, and a DNS lookup on a network that drops packets can hang for
longer. So before anything else touches the hub, :func:`fetch_remote_model` asks it once
for the model's file list, on a thread with a deadline (:data:`PROBE_TIMEOUT_S`, DNS
included); when that fails, nothing else is tried and the caller gets one line naming
``livevoice models pull`` and the local-folder alternative. With ``HF_HUB_OFFLINE=1``
the hub is not asked at all.

Downloads go through ``huggingface_hub.snapshot_download``: into the normal hub cache
(where a hub id in ``[tts] model`` finds it, also offline) or a folder of your choice,
resumed from the partial files an interrupted download left. Their progress is reported
by :class:`~livevoice.models.progress.DownloadProgress` (a bar on a terminal, plain lines
in a log) instead of the client's own per-file bars, over plain HTTP (see
:func:`_hub_client_settings`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO, TypeVar

from livevoice.errors import ModelError
from livevoice.models.folder import missing_files

log = logging.getLogger(__name__)

ALIASES = {
    "0.6B": "Qwen/Qwen3-TTS-12Hz-0.6B-Base",
    "1.7B": "Qwen/Qwen3-TTS-12Hz-1.7B-Base",
}
"""Short names ``livevoice models pull`` accepts, and the hub ids they stand for."""
PROBE_TIMEOUT_S = 2.5
"""How long the one request that checks the hub may take (s, DNS lookup included)."""

T = TypeVar("T")


class HubError(ModelError):
    """The hub cannot be reached, or it has no such model (``unreachable`` tells which)."""

    def __init__(self, reason: str, *, unreachable: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.unreachable = unreachable


def resolve_alias(name: str) -> str:
    """The hub id for ``name``: an alias ("0.6B", "1.7b") or a hub id as it is."""
    for alias, repo_id in ALIASES.items():
        if name.casefold() == alias.casefold():
            return repo_id
    return name


def short_name(repo_id: str) -> str:
    """The alias of ``repo_id`` if it has one, else ``repo_id``: what to type after ``models pull``."""
    for alias, known in ALIASES.items():
        if known == repo_id:
            return alias
    return repo_id


def pull_command(repo_id: str) -> str:
    """The command that downloads ``repo_id``."""
    return f"livevoice models pull {short_name(repo_id)}"


def looks_like_hub_id(model: str) -> bool:
    """Whether ``model`` is written like a hub id (``owner/name``) rather than a folder path."""
    if model.startswith(("/", ".", "~")) or (os.sep == "\\" and "\\" in model):
        return False
    owner, sep, name = model.partition("/")
    return bool(sep and owner and name and "/" not in name)


def endpoint() -> str:
    """The hub the client talks to (``HF_ENDPOINT``, by default https://huggingface.co)."""
    from huggingface_hub import constants

    return str(constants.ENDPOINT)


def offline_by_env() -> bool:
    """Whether ``HF_HUB_OFFLINE`` (or ``TRANSFORMERS_OFFLINE``) forbids asking the hub."""
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE)


def unavailable_message(model: str, reason: str) -> str:
    """The one line for a hub model that is neither on this machine nor downloadable now."""
    return (
        f"cannot load TTS model '{model}': not a local folder and it cannot be downloaded ({reason}); "
        f"run `{pull_command(model)}` where the hub can be reached, or set [tts] model to a local "
        "model folder"
    )


@dataclass(frozen=True, slots=True)
class RemoteFile:
    """One file of a model on the hub."""

    path: str
    size: int | None


@dataclass(frozen=True, slots=True)
class RemoteModel:
    """A model's revision and files, as the hub lists them."""

    repo_id: str
    revision: str
    sha: str
    files: tuple[RemoteFile, ...]

    @property
    def total_bytes(self) -> int | None:
        """The sum of the file sizes; None when the hub did not give them all."""
        sizes = [f.size for f in self.files]
        if not sizes or any(size is None for size in sizes):
            return None
        return sum(size for size in sizes if size is not None)

    def missing_in(self, folder: Path) -> list[str]:
        """The files of this revision that ``folder`` lacks or holds at another size."""
        missing = []
        for f in self.files:
            path = folder / f.path
            try:
                if f.size is not None and path.stat().st_size != f.size:
                    missing.append(f.path)
            except OSError:
                missing.append(f.path)
        return missing


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__


def _on_thread(fn: Callable[[], T], name: str, timeout_s: float | None = None) -> T:
    """``fn()`` on a daemon thread, waited for in short steps so that Ctrl-C reaches the caller.

    With ``timeout_s``, a thread still running then is abandoned (a blocked DNS lookup
    cannot be interrupted; it ends on its own) and TimeoutError is raised.
    """
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as err:
            box["error"] = err

    thread = threading.Thread(target=target, name=name, daemon=True)
    thread.start()
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    while thread.is_alive():
        left = 0.1 if deadline is None else min(0.1, deadline - time.monotonic())
        if left <= 0:
            raise TimeoutError(f"{name} still running after {timeout_s:g} s")
        thread.join(left)
    if "error" in box:
        raise box["error"]
    result: T = box["value"]
    return result


_CONNECTION_PROBLEMS = (
    (
        (
            "Failed to resolve",
            "Name or service not known",
            "nodename nor servname",
            "getaddrinfo failed",
            "Temporary failure in name resolution",
            "No address associated",
        ),
        "its name cannot be resolved (no network?)",
    ),
    (("Connection refused",), "connection refused"),
    (("Network is unreachable",), "the network is unreachable"),
    (("No route to host",), "no route to host"),
    (("timed out", "Timeout"), "no answer in time"),
    (("Connection reset", "RemoteDisconnected", "Connection aborted"), "the connection was closed"),
    (("SSLError", "CERTIFICATE_VERIFY_FAILED", "SSL:"), "a TLS error (a proxy or a clock problem?)"),
    (("ProxyError",), "the proxy refused the connection"),
)


def connection_problem(err: BaseException) -> str:
    """A short reason for a failed connection, without the client's nested exception text."""
    seen: list[BaseException] = []
    current: BaseException | None = err
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    text = " ".join(f"{type(e).__name__}: {e}" for e in seen)
    for needles, reason in _CONNECTION_PROBLEMS:
        if any(needle in text for needle in needles):
            return reason
    line = _first_line(err)
    return line if len(line) <= 160 else line[:157] + "..."


def classify_hub_error(err: BaseException, repo_id: str, where: str) -> HubError:
    """A hub client exception as a one-line HubError (unreachable, or a definite answer)."""
    from huggingface_hub import errors

    if isinstance(err, errors.GatedRepoError):
        return HubError(
            f"{repo_id} on {where} needs a login (accept its terms on the hub, then `hf auth login`)",
            unreachable=False,
        )
    if isinstance(err, errors.RepositoryNotFoundError):
        return HubError(f"there is no model {repo_id!r} on {where}", unreachable=False)
    if isinstance(err, errors.RevisionNotFoundError):
        return HubError(f"{repo_id} on {where} has no such revision", unreachable=False)
    response = getattr(err, "response", None)
    status = getattr(response, "status_code", None)
    if isinstance(status, int) and status < 500 and status != 429:
        return HubError(f"{where} answered HTTP {status} for {repo_id}", unreachable=False)
    if isinstance(status, int):
        return HubError(f"{where} answered HTTP {status}", unreachable=True)
    return HubError(f"cannot reach {where}: {connection_problem(err)}", unreachable=True)


def fetch_remote_model(
    repo_id: str, revision: str = "main", *, timeout_s: float = PROBE_TIMEOUT_S
) -> RemoteModel:
    """The model's commit and file list from the hub: one request, no retries, at most ``timeout_s``.

    Raises :class:`HubError` (``unreachable=True`` for no network, a timeout, a hub error
    5xx; ``False`` for an unknown or gated model). With ``HF_HUB_OFFLINE`` set it raises
    at once, without a request.
    """
    where = endpoint()
    if offline_by_env():
        raise HubError("HF_HUB_OFFLINE is set", unreachable=True)
    from huggingface_hub import HfApi

    api = HfApi(endpoint=where)

    def ask() -> Any:  # the socket's own timeout is longer: the deadline below decides
        return api.model_info(repo_id, revision=revision, files_metadata=True, timeout=timeout_s + 5)

    try:
        info = _on_thread(ask, "hub-probe", timeout_s)
    except TimeoutError:
        raise HubError(f"{where} did not answer within {timeout_s:g} s", unreachable=True) from None
    except Exception as err:
        raise classify_hub_error(err, repo_id, where) from None
    files = tuple(
        RemoteFile(str(s.rfilename), int(s.size) if s.size is not None else None)
        for s in (info.siblings or ())
    )
    return RemoteModel(repo_id, revision, str(info.sha or ""), files)


def hub_cache_dir() -> Path:
    """The hub cache folder (``HF_HUB_CACHE``, by default ``~/.cache/huggingface/hub``)."""
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def storage_folder(repo_id: str) -> Path:
    """Where the hub cache keeps ``repo_id`` (blobs, refs, snapshots)."""
    return hub_cache_dir() / ("models--" + repo_id.replace("/", "--"))


def cached_snapshot(repo_id: str, revision: str = "main") -> Path | None:
    """The cached snapshot folder of ``repo_id`` at ``revision``, or None (no network is used).

    The folder may be incomplete after an interrupted download: check it with
    :func:`~livevoice.models.folder.missing_files`.
    """
    ref = storage_folder(repo_id) / "refs" / revision
    try:
        sha = ref.read_text(encoding="utf-8").strip() if ref.is_file() else revision
    except OSError:
        return None
    if not sha or "/" in sha or sha.startswith("."):
        return None
    snapshot = storage_folder(repo_id) / "snapshots" / sha
    return snapshot if snapshot.is_dir() else None


def _sum_sizes(paths: Iterator[Path]) -> int:
    total = 0
    for path in paths:
        with contextlib.suppress(OSError):
            total += path.stat().st_size
    return total


def bytes_on_disk(final_files: list[Path], partial_root: Path) -> int:
    """Bytes of a download so far: the files that are complete (at their final paths) plus
    the partial ``*.incomplete`` files under ``partial_root``."""
    done = _sum_sizes(path for path in final_files if path.exists())
    if partial_root.is_dir():
        done += _sum_sizes(partial_root.rglob("*.incomplete"))
    return done


@contextlib.contextmanager
def _hub_client_settings() -> Iterator[None]:
    """The hub client set up for our downloads, restored afterwards.

    - its own progress bars off (ours reports instead);
    - files fetched over plain HTTP rather than the Xet protocol, unless ``HF_HUB_DISABLE_XET``
      says otherwise: plain HTTP writes each file progressively into its ``.incomplete`` file
      and resumes it with a byte range (what the progress report measures and what an
      interrupted pull relies on), and it keeps no second copy in a chunk cache.
    """
    from huggingface_hub import constants
    from huggingface_hub.utils import (
        are_progress_bars_disabled,
        disable_progress_bars,
        enable_progress_bars,
    )

    was_off = are_progress_bars_disabled()
    xet_was_disabled = constants.HF_HUB_DISABLE_XET
    disable_progress_bars()
    if "HF_HUB_DISABLE_XET" not in os.environ:
        constants.HF_HUB_DISABLE_XET = True
    try:
        yield
    finally:
        constants.HF_HUB_DISABLE_XET = xet_was_disabled
        if not was_off:
            enable_progress_bars()


def download(
    remote: RemoteModel,
    *,
    to: Path | None = None,
    stream: TextIO | None = None,
    interactive: bool | None = None,
    line_every_s: float | None = None,
) -> Path:
    """Download ``remote`` into the hub cache (``to=None``) or the folder ``to``; returns the model folder.

    Files already there are kept, partial files are resumed. Progress goes to ``stream``
    (default stderr): a bar on a terminal, else plain lines every ``line_every_s`` seconds.
    Raises a one-line :class:`ModelError` when the download stops or the result is not a
    complete model folder.
    """
    from huggingface_hub import snapshot_download

    from livevoice.models.progress import LINE_EVERY_S, DownloadProgress

    if to is not None:
        if to.exists() and not to.is_dir():
            raise ModelError(f"cannot download into {to}: it is a file, not a folder")
        final = [to / f.path for f in remote.files]
        partial_root = to / ".cache" / "huggingface"
    else:
        snapshot = storage_folder(remote.repo_id) / "snapshots" / remote.sha
        final = [snapshot / f.path for f in remote.files]
        partial_root = storage_folder(remote.repo_id) / "blobs"

    def measure() -> int:
        return bytes_on_disk(final, partial_root)

    def fetch() -> str:
        return str(
            snapshot_download(
                remote.repo_id,
                revision=remote.revision,
                local_dir=str(to) if to is not None else None,
                endpoint=endpoint(),
            )
        )

    progress = DownloadProgress(
        remote.repo_id,
        remote.total_bytes,
        measure,
        stream,
        interactive=interactive,
        line_every_s=LINE_EVERY_S if line_every_s is None else line_every_s,
    )
    try:
        with _hub_client_settings(), progress:
            folder = Path(_on_thread(fetch, "hub-download"))
    except ModelError:
        raise
    except Exception as err:
        raise ModelError(
            f"the download of {remote.repo_id} stopped: {_first_line(err)}; run "
            f"`{pull_command(remote.repo_id)}` again to resume it"
        ) from None
    missing = missing_files(folder)
    if missing:
        raise ModelError(
            f"{remote.repo_id} was downloaded to {folder} but lacks {', '.join(missing[:3])}: "
            "it is not a Qwen3-TTS model folder"
        )
    return folder


def ensure_local_model(repo_id: str, *, revision: str = "main", stream: TextIO | None = None) -> Path:
    """The local folder of the hub model ``repo_id``, downloaded (with progress) if needed.

    A complete copy in the hub cache is used as it is when the hub has nothing newer or
    cannot be reached (or ``HF_HUB_OFFLINE`` is set). Otherwise, when the hub cannot be
    reached, the one line of :func:`unavailable_message` comes within
    :data:`PROBE_TIMEOUT_S` seconds.
    """
    cached = cached_snapshot(repo_id, revision)
    missing = missing_files(cached) if cached is not None else []
    complete = cached is not None and not missing
    try:
        remote = fetch_remote_model(repo_id, revision)
    except HubError as err:
        if cached is not None and complete and err.unreachable:
            log.info("%s: %s; using the copy in the hub cache (%s)", repo_id, err.reason, cached)
            return cached
        reason = err.reason
        if cached is not None and missing:
            reason += f"; the copy in the hub cache lacks {', '.join(missing[:3])}"
        raise ModelError(unavailable_message(repo_id, reason)) from None
    if cached is not None and cached.name == remote.sha and not remote.missing_in(cached):
        return cached
    try:
        return download(remote, stream=stream)
    except ModelError as err:
        if cached is None or not complete:
            raise
        log.warning("%s; using the copy in the hub cache (%s)", err, cached)  # an older revision
        return cached


__all__ = [
    "ALIASES",
    "PROBE_TIMEOUT_S",
    "HubError",
    "RemoteFile",
    "RemoteModel",
    "bytes_on_disk",
    "cached_snapshot",
    "classify_hub_error",
    "connection_problem",
    "download",
    "endpoint",
    "ensure_local_model",
    "fetch_remote_model",
    "hub_cache_dir",
    "looks_like_hub_id",
    "offline_by_env",
    "pull_command",
    "resolve_alias",
    "short_name",
    "storage_folder",
    "unavailable_message",
]
