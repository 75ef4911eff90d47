"""Voice files: a speaker embedding plus metadata, stored as safetensors.

A voice file holds one float32 1-D tensor under the key ``speaker_embedding`` (the
convention community Qwen3-TTS tools use, so their files load as they are) and its
metadata as strings in the safetensors header: ``name``, ``model_id``, ``dim``,
``source``, ``created`` and ``note``. Files made elsewhere may carry no metadata; the
missing fields then default (name = file stem, dim = tensor length, others empty).

Everything that can be wrong with a file (not safetensors, truncated, wrong key,
shape or dtype, NaN/inf values, a ``dim`` that disagrees with the tensor) raises
:class:`VoiceError` with one line naming the file. Writes are atomic: the bytes go to
a hidden temporary file in the same folder, are fsynced, then renamed over the target,
so a crash or a concurrent reader never sees half a file.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt
from safetensors import SafetensorError, safe_open
from safetensors.numpy import save as safetensors_save

from livevoice.errors import LivevoiceError

EMBEDDING_KEY = "speaker_embedding"
"""Tensor key of the embedding in a voice file (community convention)."""
DIRECTION_KEY = "direction"
"""Tensor key of the vector in a direction file."""
VOICE_SUFFIX = ".safetensors"
"""File name suffix of voice files."""
FORMAT = "livevoice.voice.v1"
"""Value of the ``format`` header field livevoice writes (informational)."""
MAX_NAME_CHARS = 100
"""Longest accepted voice name (characters)."""

FloatArray = npt.NDArray[np.float32]

_NAME_EXTRA_CHARS = frozenset("-_. ")


class VoiceError(LivevoiceError):
    """A voice problem the user can fix: corrupt file, bad name, unknown voice, size mismatch."""


def validate_name(name: str) -> str:
    """Return ``name`` if it is a safe voice name, else raise :class:`VoiceError`.

    Allowed: letters, digits, ``-``, ``_``, ``.`` and spaces; no path separators, no
    leading dot (hidden files, ``..``), no leading/trailing space, at most
    :data:`MAX_NAME_CHARS` characters. Names are file stems in the library.
    """
    bad = sorted({c for c in name if not (c.isalnum() or c in _NAME_EXTRA_CHARS)})
    if not name:
        raise VoiceError("a voice name cannot be empty")
    if bad:
        shown = " ".join(repr(c) for c in bad)
        raise VoiceError(
            f"voice name {name!r} contains {shown}; use letters, digits, '-', '_', '.' and spaces"
        )
    if name.startswith(".") or name != name.strip():
        raise VoiceError(f"voice name {name!r} must not start with '.' or start/end with a space")
    if len(name) > MAX_NAME_CHARS:
        raise VoiceError(f"voice name {name[:20]!r}... is {len(name)} characters; at most {MAX_NAME_CHARS}")
    return name


def now_iso() -> str:
    """The current UTC time as ISO 8601 with seconds, e.g. ``2025-01-31T12:00:00Z``."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class VoiceMeta:
    """What a voice file says about its embedding (all stored as header strings)."""

    name: str
    """Library name (the file stem in the library)."""
    model_id: str = ""
    """Model whose speaker encoder made it (hub id or folder name); "" = unknown."""
    dim: int = 0
    """Number of values in the embedding: 1024 (0.6B), 2048 (1.7B)."""
    source: str = ""
    """How it was made: ``audio:ref.wav``, ``mix:0.7*a+0.3*b``, ``import:x.safetensors``, ..."""
    created: str = ""
    """UTC creation time, ISO 8601 (``2025-01-31T12:00:00Z``); "" = unknown."""
    note: str = ""
    """Free text, e.g. consent and provenance of the reference audio."""


def check_embedding(values: npt.ArrayLike, what: str = "embedding") -> FloatArray:
    """A read-only float32 1-D copy of ``values``; :class:`VoiceError` if it is not a usable embedding.

    Rejects other dtypes than float32, other shapes than 1-D, an empty vector, NaN/inf
    and the all-zero vector (it has no direction, so it cannot be mixed or compared).
    """
    array = np.asarray(values)
    if array.dtype != np.float32:
        raise VoiceError(f"{what} is {array.dtype}; a speaker embedding is float32")
    if array.ndim != 1 or array.size == 0:
        raise VoiceError(f"{what} has shape {tuple(array.shape)}; a speaker embedding is 1-D, e.g. (1024,)")
    if not np.all(np.isfinite(array)):
        bad = int(np.count_nonzero(~np.isfinite(array)))
        raise VoiceError(f"{what} holds {bad} NaN/inf values of {array.size}")
    if not np.any(array):
        raise VoiceError(f"{what} is all zeros")
    copy = np.array(array, dtype=np.float32, copy=True)
    copy.setflags(write=False)
    return copy


@dataclass(frozen=True)
class Voice:
    """A speaker embedding (float32, 1-D, read-only) with its metadata.

    Construction validates the embedding (see :func:`check_embedding`) and fills
    ``meta.dim`` from it; a ``meta.dim`` that disagrees raises :class:`VoiceError`.
    """

    embedding: FloatArray
    """The speaker embedding: float32, 1-D, read-only."""
    meta: VoiceMeta
    """Name, model, dimension, provenance."""

    def __post_init__(self) -> None:
        embedding = check_embedding(self.embedding, f"embedding of voice {self.meta.name!r}")
        object.__setattr__(self, "embedding", embedding)
        if self.meta.dim == 0:
            object.__setattr__(self, "meta", replace(self.meta, dim=embedding.size))
        elif self.meta.dim != embedding.size:
            raise VoiceError(
                f"voice {self.meta.name!r} says dim {self.meta.dim} but holds {embedding.size} values"
            )

    @property
    def dim(self) -> int:
        """Number of values in the embedding."""
        return self.meta.dim

    def renamed(self, name: str) -> Voice:
        """The same voice under another (validated) name."""
        return Voice(self.embedding, replace(self.meta, name=validate_name(name)))


def _header(meta: VoiceMeta) -> dict[str, str]:
    return {
        "format": FORMAT,
        "name": meta.name,
        "model_id": meta.model_id,
        "dim": str(meta.dim),
        "source": meta.source,
        "created": meta.created,
        "note": meta.note,
    }


def _meta_from_header(header: dict[str, str], path: Path, size: int, what: str) -> VoiceMeta:
    dim_text = header.get("dim", "")
    if dim_text:
        try:
            dim = int(dim_text)
        except ValueError:
            raise VoiceError(f"{what} {path}: header dim {dim_text!r} is not an integer") from None
        if dim != size:
            raise VoiceError(f"{what} {path} says dim {dim} but holds {size} values")
    return VoiceMeta(
        name=header.get("name") or path.stem,
        model_id=header.get("model_id", ""),
        dim=size,
        source=header.get("source", ""),
        created=header.get("created", ""),
        note=header.get("note", ""),
    )


def voice_to_bytes(voice: Voice) -> bytes:
    """The safetensors bytes of a voice file (tensor + header metadata)."""
    tensors = {EMBEDDING_KEY: np.ascontiguousarray(voice.embedding)}
    return safetensors_save(tensors, metadata=_header(voice.meta))


def write_atomic(path: Path, data: bytes, *, force: bool = False) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the whole new one.

    The bytes go to a hidden temporary file in the same folder, are fsynced, then take
    the target's name. With ``force=False`` an existing file is never replaced, even
    by a concurrent writer (the rename is a hard link that fails if the name exists).
    The folder is created if needed.
    """
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as err:
        raise VoiceError(f"cannot write {path}: {err.strerror or err}") from None
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if force:
            os.replace(tmp, path)
        else:
            _link_no_overwrite(tmp, path)
        _fsync_dir(folder)
    except FileExistsError:
        raise VoiceError(f"{path} already exists; use --force to overwrite it") from None
    except OSError as err:
        raise VoiceError(f"cannot write {path}: {err.strerror or err}") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _link_no_overwrite(tmp: Path, path: Path) -> None:
    """Give ``tmp`` the name ``path`` unless it exists (FileExistsError)."""
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise
    except OSError:
        # File systems without hard links: check, then rename (a small race remains).
        if path.exists():
            raise FileExistsError(path) from None
        os.replace(tmp, path)


def _fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (where the platform allows it)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


def save_voice(path: Path, voice: Voice, *, force: bool = False) -> None:
    """Write ``voice`` to ``path`` atomically; an existing file needs ``force=True``."""
    write_atomic(path, voice_to_bytes(voice), force=force)


def read_tensor_file(path: Path, key: str, what: str) -> tuple[FloatArray, dict[str, str]]:
    """Read the float32 1-D tensor ``key`` and the header metadata of a safetensors file.

    ``what`` names the kind of file in messages ("voice file", "direction file").
    """
    if not path.is_file():
        kind = "is a folder" if path.is_dir() else "does not exist"
        raise VoiceError(f"{what} {path} {kind}")
    try:
        with safe_open(str(path), framework="np") as handle:
            metadata = dict(handle.metadata() or {})
            keys = list(handle.keys())
            if key not in keys:
                found = ", ".join(repr(k) for k in keys) or "no tensors"
                raise VoiceError(f"{what} {path} has no tensor {key!r} (found {found})")
            piece = handle.get_slice(key)
            dtype, shape = piece.get_dtype(), list(piece.get_shape())
            if dtype != "F32":
                raise VoiceError(f"{what} {path}: tensor {key!r} is {dtype}; expected float32 (F32)")
            if len(shape) != 1:
                raise VoiceError(
                    f"{what} {path}: tensor {key!r} has shape {tuple(shape)}; expected 1-D, e.g. (1024,)"
                )
            values = handle.get_tensor(key)
    except SafetensorError as err:
        raise VoiceError(
            f"{what} {path} is not a valid safetensors file (truncated or corrupt?): {err}"
        ) from None
    except OSError as err:
        raise VoiceError(f"{what} {path} cannot be read: {err.strerror or err}") from None
    return check_embedding(values, f"{what} {path}"), metadata


def load_voice(path: Path) -> Voice:
    """Read and validate a voice file (see the module docstring for what is checked)."""
    path = Path(path)
    embedding, header = read_tensor_file(path, EMBEDDING_KEY, "voice file")
    return Voice(embedding, _meta_from_header(header, path, embedding.size, "voice file"))


@dataclass(frozen=True)
class Direction:
    """An attribute direction ("deeper", "robotic"): a vector added to voices, with metadata.

    Stored like a voice file but under the tensor key :data:`DIRECTION_KEY`, so a
    direction is never mistaken for a voice. ``meta.source`` records how it was learned.
    """

    vector: FloatArray
    """The direction: float32, 1-D, read-only, same size as the voices it applies to."""
    meta: VoiceMeta
    """Name, model, dimension, how it was learned."""

    def __post_init__(self) -> None:
        vector = check_embedding(self.vector, f"direction {self.meta.name!r}")
        object.__setattr__(self, "vector", vector)
        if self.meta.dim == 0:
            object.__setattr__(self, "meta", replace(self.meta, dim=vector.size))
        elif self.meta.dim != vector.size:
            raise VoiceError(
                f"direction {self.meta.name!r} says dim {self.meta.dim} but holds {vector.size} values"
            )


def save_direction(path: Path, direction: Direction, *, force: bool = False) -> None:
    """Write a direction file atomically; an existing file needs ``force=True``."""
    tensors = {DIRECTION_KEY: np.ascontiguousarray(direction.vector)}
    write_atomic(path, safetensors_save(tensors, metadata=_header(direction.meta)), force=force)


def load_direction(path: Path) -> Direction:
    """Read and validate a direction file."""
    path = Path(path)
    vector, header = read_tensor_file(path, DIRECTION_KEY, "direction file")
    return Direction(vector, _meta_from_header(header, path, vector.size, "direction file"))


__all__ = [
    "DIRECTION_KEY",
    "EMBEDDING_KEY",
    "VOICE_SUFFIX",
    "Direction",
    "Voice",
    "VoiceError",
    "VoiceMeta",
    "check_embedding",
    "load_direction",
    "load_voice",
    "now_iso",
    "read_tensor_file",
    "save_direction",
    "save_voice",
    "validate_name",
    "voice_to_bytes",
    "write_atomic",
]
