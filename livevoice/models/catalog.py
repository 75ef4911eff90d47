"""The TTS models this machine has: in the hub cache, in local folders, and the known downloads."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from livevoice.models.folder import inspect_folder, read_model_config
from livevoice.models.hub import (
    ALIASES,
    cached_snapshot,
    hub_cache_dir,
    looks_like_hub_id,
    pull_command,
)

State = Literal["ready", "incomplete", "not downloaded", "no such folder", "not a Base model"]


@dataclass(frozen=True, slots=True)
class ModelEntry:
    """One TTS model: where it is and whether it can be loaded."""

    model: str
    """What ``[tts] model`` says to use it: a hub id or a folder."""
    state: State
    folder: Path | None
    """Its folder on this machine (a hub-cache snapshot or a local folder); None when absent."""
    size_bytes: int
    embedding_dim: int
    """Speaker-embedding size (0 = unknown)."""
    missing: tuple[str, ...]
    configured: bool
    """It is ``[tts] model`` in the config."""
    fix: str
    """The command or setting that makes it ready ("" when it is)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "state": self.state,
            "folder": str(self.folder) if self.folder else None,
            "size_bytes": self.size_bytes,
            "embedding_dim": self.embedding_dim,
            "missing": list(self.missing),
            "configured": self.configured,
            "fix": self.fix,
        }


def describe_model(model: str, *, configured: bool = False) -> ModelEntry:
    """The state of ``model`` (a hub id or a folder) on this machine; no network is used."""
    if looks_like_hub_id(model) and not Path(model).expanduser().is_dir():
        folder = cached_snapshot(model)
        if folder is None:
            return ModelEntry(model, "not downloaded", None, 0, 0, (), configured, pull_command(model))
        fix = pull_command(model)
    else:
        folder = Path(model).expanduser()
        if not folder.is_dir():
            fix = (
                "set [tts] model to a model folder, or to 0.6B's hub id and run `livevoice models pull 0.6B`"
            )
            return ModelEntry(model, "no such folder", None, 0, 0, (), configured, fix)
        fix = "copy the whole model folder again"
    info = inspect_folder(folder)
    if info.missing:
        return ModelEntry(
            model, "incomplete", folder, info.size_bytes, info.embedding_dim, info.missing, configured, fix
        )
    if not info.is_qwen3_tts_base:
        fix = f"use a Qwen3-TTS *-Base model, e.g. {ALIASES['0.6B']}"
        return ModelEntry(
            model, "not a Base model", folder, info.size_bytes, info.embedding_dim, (), configured, fix
        )
    return ModelEntry(model, "ready", folder, info.size_bytes, info.embedding_dim, (), configured, "")


def cached_tts_repos() -> list[str]:
    """Hub ids of the Qwen3-TTS models in the hub cache (complete or not)."""
    root = hub_cache_dir()
    found = []
    for storage in sorted(root.glob("models--*--*")) if root.is_dir() else []:
        repo_id = storage.name.removeprefix("models--").replace("--", "/", 1)
        snapshot = cached_snapshot(repo_id)
        if snapshot is not None and read_model_config(snapshot).get("model_type") == "qwen3_tts":
            found.append(repo_id)
    return found


def list_models(configured_model: str) -> list[ModelEntry]:
    """The known downloads (0.6B, 1.7B), every Qwen3-TTS model in the hub cache, and the configured one."""
    names: list[str] = list(ALIASES.values())
    names += [repo for repo in cached_tts_repos() if repo not in names]
    if configured_model not in names:
        names.append(configured_model)
    return [describe_model(name, configured=name == configured_model) for name in names]


__all__ = ["ModelEntry", "cached_tts_repos", "describe_model", "list_models"]
