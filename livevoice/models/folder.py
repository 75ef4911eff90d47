"""What a Qwen3-TTS model folder holds, read from its files without loading the model.

A folder is *complete* when everything :func:`missing_files` looks for is there: the
config, the text tokenizer, the weights (one file or every shard of an index) and the
12 Hz speech tokenizer with its weights. An interrupted download leaves some of these
out; the loader would then fail half-way, so callers check first and say which file is
missing.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

WEIGHTS_FILE = "model.safetensors"
WEIGHTS_INDEX = "model.safetensors.index.json"
SPEECH_TOKENIZER = "speech_tokenizer"


def _weights_missing(folder: Path, prefix: str) -> list[str]:
    """Missing weight files of ``folder`` (names relative to the model folder, with ``prefix``)."""
    if (folder / WEIGHTS_FILE).is_file():
        return []
    index = folder / WEIGHTS_INDEX
    if not index.is_file():
        return [f"{prefix}{WEIGHTS_FILE}"]
    try:
        weight_map = json.loads(index.read_text(encoding="utf-8")).get("weight_map", {})
        shards = sorted({str(name) for name in weight_map.values()})
    except (OSError, ValueError, AttributeError):
        return [f"{prefix}{WEIGHTS_INDEX} (unreadable)"]
    return [f"{prefix}{shard}" for shard in shards if not (folder / shard).is_file()]


def missing_files(folder: Path) -> list[str]:
    """Files a loadable Qwen3-TTS model folder needs that ``folder`` lacks ([] = complete)."""
    missing = [name for name in ("config.json",) if not (folder / name).is_file()]
    has_fast_tokenizer = (folder / "tokenizer.json").is_file()
    if not has_fast_tokenizer:
        missing += [name for name in ("vocab.json", "merges.txt") if not (folder / name).is_file()]
    missing += _weights_missing(folder, "")
    speech = folder / SPEECH_TOKENIZER
    if not (speech / "config.json").is_file():
        missing.append(f"{SPEECH_TOKENIZER}/config.json")
    missing += _weights_missing(speech, f"{SPEECH_TOKENIZER}/")
    return missing


def folder_bytes(folder: Path) -> int:
    """Bytes of the files under ``folder`` (symlinks followed, as in the hub cache; each file once)."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for root, dirs, files in os.walk(folder, followlinks=False):
        dirs[:] = [d for d in dirs if not d.startswith(".")]  # .cache/ of a --to folder: partial files
        for name in files:
            try:
                info = (Path(root) / name).stat()
            except OSError:
                continue
            if (info.st_dev, info.st_ino) not in seen:
                seen.add((info.st_dev, info.st_ino))
                total += info.st_size
    return total


@dataclass(frozen=True, slots=True)
class ModelFolderInfo:
    """What a model folder's config.json says, and what is there."""

    folder: Path
    model_type: str
    """``model_type`` of config.json: "qwen3_tts" for Qwen3-TTS."""
    tts_model_type: str
    """"base" for *-Base models (the only ones that take speaker embeddings)."""
    embedding_dim: int
    """Speaker-embedding size: 1024 (0.6B), 2048 (1.7B); 0 = not stated."""
    size_bytes: int
    missing: tuple[str, ...]
    """Files it still needs (see :func:`missing_files`)."""

    @property
    def complete(self) -> bool:
        return not self.missing

    @property
    def is_qwen3_tts_base(self) -> bool:
        return self.model_type == "qwen3_tts" and self.tts_model_type == "base"


def read_model_config(folder: Path) -> dict[str, Any]:
    """The folder's config.json as a dict ({} when absent or unreadable)."""
    try:
        data = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def embedding_dim_of(config: dict[str, Any]) -> int:
    """Speaker-embedding size from a config.json dict (the speaker encoder's output = talker width)."""
    for section, key in (("speaker_encoder_config", "enc_dim"), ("talker_config", "hidden_size")):
        value = (config.get(section) or {}).get(key)
        if isinstance(value, int) and value > 0:
            return value
    return 0


def inspect_folder(folder: Path) -> ModelFolderInfo:
    """Read ``folder``'s config.json and check its files (no model code is imported)."""
    config = read_model_config(folder)
    return ModelFolderInfo(
        folder=folder,
        model_type=str(config.get("model_type", "")),
        tts_model_type=str(config.get("tts_model_type", "")),
        embedding_dim=embedding_dim_of(config),
        size_bytes=folder_bytes(folder),
        missing=tuple(missing_files(folder)),
    )


def format_bytes(count: float) -> str:
    """``2.52 GB``, ``312 MB``, ``4.1 kB`` (powers of 1000, as download sizes are given)."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if count >= scale:
            value = count / scale
            digits = 2 if value < 10 else 1 if value < 100 else 0
            return f"{value:.{digits}f} {unit}"
    return f"{int(count)} B"


__all__ = [
    "ModelFolderInfo",
    "embedding_dim_of",
    "folder_bytes",
    "format_bytes",
    "inspect_folder",
    "missing_files",
    "read_model_config",
]
