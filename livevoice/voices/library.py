"""The voice library: a folder of voice files, one ``NAME.safetensors`` per voice.

The folder is ``[voices] library`` from the config, by default
``$XDG_DATA_HOME/livevoice/voices``. The file stem is the voice's name (the ``name``
in the header is informational and is kept in step by :meth:`VoiceLibrary.add` and
:meth:`VoiceLibrary.rename`). Attribute directions live in the ``directions``
sub-folder in the same format under another tensor key.

Every write is atomic (see :func:`~livevoice.voices.embedding.write_atomic`) and
never replaces an existing voice unless ``force=True``. A corrupt file in the folder
never stops the others from being listed: it is reported and skipped.
"""

from __future__ import annotations

import builtins
import dataclasses
import logging
import os
from pathlib import Path

from livevoice.config import Config, xdg_data_dir
from livevoice.voices.embedding import (
    VOICE_SUFFIX,
    Direction,
    Voice,
    VoiceError,
    VoiceMeta,
    load_direction,
    load_voice,
    save_direction,
    save_voice,
    validate_name,
)

log = logging.getLogger(__name__)

DIRECTIONS_FOLDER = "directions"
"""Sub-folder of the library holding attribute directions."""
_MAX_NAMES_IN_MESSAGE = 12


def _known(names: builtins.list[str], kind: str, folder: Path) -> str:
    if not names:
        return f"no {kind}s in {folder} yet"
    shown = ", ".join(names[:_MAX_NAMES_IN_MESSAGE])
    more = len(names) - _MAX_NAMES_IN_MESSAGE
    return f"known: {shown}" + (f" (and {more} more)" if more > 0 else "")


class VoiceLibrary:
    """Named voices (and attribute directions) in one folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        """The library folder (created on the first write)."""

    @classmethod
    def from_config(cls, config: Config) -> VoiceLibrary:
        """The library of ``config.voices.library``, or ``$XDG_DATA_HOME/livevoice/voices``."""
        configured = config.voices.library
        folder = Path(configured).expanduser() if configured else xdg_data_dir() / "voices"
        return cls(folder)

    def __repr__(self) -> str:
        return f"VoiceLibrary({str(self.folder)!r})"

    # -- voices ---------------------------------------------------------------

    def path_of(self, name: str) -> Path:
        """Where the voice ``name`` is (or would be) stored; validates the name."""
        return self.folder / f"{validate_name(name)}{VOICE_SUFFIX}"

    def _stems(self, folder: Path) -> builtins.list[str]:
        try:
            entries = list(os.scandir(folder))
        except FileNotFoundError:
            return []
        except OSError as err:
            raise VoiceError(f"cannot read the voice library {folder}: {err.strerror or err}") from None
        stems = []
        for entry in entries:
            if entry.name.endswith(VOICE_SUFFIX) and not entry.name.startswith("."):
                stems.append(entry.name[: -len(VOICE_SUFFIX)])
        return sorted(stems, key=lambda s: (s.casefold(), s))

    def names(self) -> builtins.list[str]:
        """Names of the voices in the library, sorted (case-insensitively)."""
        valid = []
        for stem in self._stems(self.folder):
            try:
                valid.append(validate_name(stem))
            except VoiceError:
                continue
        return valid

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        try:
            return self.path_of(name).is_file()
        except VoiceError:
            return False

    def scan(self) -> tuple[builtins.list[VoiceMeta], builtins.list[tuple[str, str]]]:
        """Metadata of every readable voice, and ``(file name, problem)`` for the others."""
        metas: builtins.list[VoiceMeta] = []
        problems: builtins.list[tuple[str, str]] = []
        for stem in self._stems(self.folder):
            file_name = f"{stem}{VOICE_SUFFIX}"
            try:
                validate_name(stem)
                metas.append(self._load(stem).meta)
            except VoiceError as err:
                problems.append((file_name, str(err)))
        return metas, problems

    def list(self) -> builtins.list[VoiceMeta]:
        """Metadata of every readable voice; unreadable files are logged and skipped."""
        metas, problems = self.scan()
        for file_name, problem in problems:
            log.warning("skipping %s: %s", file_name, problem)
        return metas

    def voices(self) -> builtins.list[Voice]:
        """Every readable voice (for search); unreadable files are logged and skipped."""
        found = []
        for meta in self.list():
            try:
                found.append(self._load(meta.name))
            except VoiceError as err:  # changed since listed
                log.warning("skipping %s: %s", meta.name, err)
        return found

    def _load(self, name: str) -> Voice:
        voice = load_voice(self.path_of(name))
        if voice.meta.name != name:
            voice = Voice(voice.embedding, dataclasses.replace(voice.meta, name=name))
        return voice

    def _unknown(self, name: str) -> VoiceError:
        return VoiceError(f"unknown voice {name!r}; {_known(self.names(), 'voice', self.folder)}")

    def get(self, name: str) -> Voice:
        """The voice called ``name``; :class:`VoiceError` listing the known names if absent."""
        if not self.path_of(name).is_file():
            raise self._unknown(name)
        return self._load(name)

    def resolve(self, name_or_file: str) -> Voice:
        """A library voice by name, or a voice file by path (``*.safetensors`` or containing a ``/``)."""
        if name_or_file in self:
            return self.get(name_or_file)
        separators = {os.sep, os.altsep} - {None}
        if name_or_file.endswith(VOICE_SUFFIX) or any(s in name_or_file for s in separators if s):
            return load_voice(Path(name_or_file).expanduser())
        return self.get(name_or_file)

    def add(self, voice: Voice, *, force: bool = False) -> Path:
        """Store ``voice`` under ``voice.meta.name``; an existing name needs ``force=True``."""
        path = self.path_of(voice.meta.name)
        if path.exists() and not force:
            raise VoiceError(f"voice {voice.meta.name!r} already exists; use --force to overwrite it")
        save_voice(path, voice, force=force)
        return path

    def remove(self, name: str) -> None:
        """Delete the voice ``name`` (even if its file is corrupt)."""
        path = self.path_of(name)
        try:
            path.unlink()
        except FileNotFoundError:
            raise self._unknown(name) from None
        except OSError as err:
            raise VoiceError(f"cannot remove voice {name!r}: {err.strerror or err}") from None

    def rename(self, old: str, new: str, *, force: bool = False) -> None:
        """Rename a voice; an existing ``new`` needs ``force=True``.

        The voice is first written under the new name (atomically, header name
        updated), then the old file is removed: a crash in between leaves both, never
        neither.
        """
        voice = self.get(old)
        old_path, new_path = self.path_of(old), self.path_of(new)
        if new == old:
            return
        if new_path.exists() and os.path.samefile(old_path, new_path):
            # A change of case on a case-insensitive file system: one file, two spellings.
            os.replace(old_path, new_path)
            save_voice(new_path, voice.renamed(new), force=True)
            return
        self.add(voice.renamed(new), force=force)
        old_path.unlink(missing_ok=True)

    # -- directions -----------------------------------------------------------

    @property
    def directions_folder(self) -> Path:
        """Where attribute directions are stored."""
        return self.folder / DIRECTIONS_FOLDER

    def direction_path(self, name: str) -> Path:
        """Where the direction ``name`` is (or would be) stored; validates the name."""
        return self.directions_folder / f"{validate_name(name)}{VOICE_SUFFIX}"

    def direction_names(self) -> builtins.list[str]:
        """Names of the stored directions, sorted."""
        valid = []
        for stem in self._stems(self.directions_folder):
            try:
                valid.append(validate_name(stem))
            except VoiceError:
                continue
        return valid

    def get_direction(self, name: str) -> Direction:
        """The direction called ``name``; :class:`VoiceError` listing the known ones if absent."""
        path = self.direction_path(name)
        if not path.is_file():
            known = _known(self.direction_names(), "direction", self.directions_folder)
            raise VoiceError(f"unknown direction {name!r}; {known}")
        direction = load_direction(path)
        if direction.meta.name != name:
            direction = Direction(direction.vector, dataclasses.replace(direction.meta, name=name))
        return direction

    def add_direction(self, direction: Direction, *, force: bool = False) -> Path:
        """Store a direction under ``direction.meta.name``; an existing name needs ``force=True``."""
        path = self.direction_path(direction.meta.name)
        if path.exists() and not force:
            raise VoiceError(f"direction {direction.meta.name!r} already exists; use --force to overwrite it")
        save_direction(path, direction, force=force)
        return path

    def remove_direction(self, name: str) -> None:
        """Delete the direction ``name``."""
        path = self.direction_path(name)
        try:
            path.unlink()
        except FileNotFoundError:
            known = _known(self.direction_names(), "direction", self.directions_folder)
            raise VoiceError(f"unknown direction {name!r}; {known}") from None


__all__ = ["DIRECTIONS_FOLDER", "VoiceLibrary"]
