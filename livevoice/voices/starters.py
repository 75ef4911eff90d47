"""Starter voices: voices made from reference clips shipped with livevoice.

A new voice library is empty, and without a voice the daemon has nothing to speak with.
The package ships a few short clips of synthesized speech (``starter_clips/``, listed in
``starters.toml`` with how each was made and under which licence); each becomes a voice
by running it through the *loaded* model's own speaker encoder, so the voices always
have that model's embedding size.

- :func:`start_with_starters` (with :func:`ensure_starter_voices`): what the daemon calls
  after loading the model; does nothing unless the library is empty, and then starts
  with the first starter voice.
- :func:`make_starter_voices`: ``livevoice voice starters [--force]``; never replaces a
  voice of the same name unless forced.

Run ``python -m livevoice.voices.starters`` to synthesize the clips again with espeak-ng.
"""

from __future__ import annotations

import io
import logging
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from livevoice.config import Config, replace
from livevoice.errors import LivevoiceError
from livevoice.voices.embedding import Voice, VoiceError, VoiceMeta, now_iso, write_atomic
from livevoice.voices.library import VoiceLibrary
from livevoice.voices.refaudio import EmbeddingExtractor, embed_samples, read_reference_audio

log = logging.getLogger(__name__)

CLIPS_FOLDER = "starter_clips"
"""Folder of the clips inside the ``livevoice.voices`` package."""
MANIFEST = "starters.toml"
LICENCE_NOTE = (
    "GPL-3.0-or-later covers eSpeak NG itself, not the audio it makes from livevoice's own text; "
    "the clip is distributed under livevoice's licence (Apache-2.0)"
)


@dataclass(frozen=True, slots=True)
class StarterClip:
    """One shipped reference clip and how it was made."""

    name: str
    """The voice's name in the library."""
    file: str
    """The clip's file name in ``starter_clips/``."""
    description: str
    espeak_voice: str
    """eSpeak NG voice and variant (``-v``)."""
    pitch: int
    """eSpeak NG pitch, 0-99 (``-p``)."""
    speed: int
    """eSpeak NG speed in words per minute (``-s``)."""
    text: str
    espeak_ng_version: str

    @property
    def note(self) -> str:
        """The voice's note: what it is, its source and its licence."""
        return (
            f"livevoice starter voice: {self.description}. Source: reference clip {self.file} shipped "
            f"with livevoice, synthesized speech made with eSpeak NG {self.espeak_ng_version} "
            f"(voice {self.espeak_voice}, pitch {self.pitch}, speed {self.speed}; formant synthesis, "
            f"no recording of a person). Licence: {LICENCE_NOTE}."
        )

    def espeak_args(self) -> list[str]:
        """espeak-ng options that synthesize this clip (without the output file)."""
        return ["-v", self.espeak_voice, "-p", str(self.pitch), "-s", str(self.speed)]


def _clips_dir() -> Any:
    return resources.files("livevoice.voices").joinpath(CLIPS_FOLDER)


def parse_manifest(text: str) -> list[StarterClip]:
    """The clips listed in a ``starters.toml`` text, in order (the first is the one to start with)."""
    data = tomllib.loads(text)
    return [
        StarterClip(
            name=str(entry["name"]),
            file=str(entry["file"]),
            description=str(entry["description"]),
            espeak_voice=str(entry["espeak_voice"]),
            pitch=int(entry["pitch"]),
            speed=int(entry["speed"]),
            text=str(data["text"]),
            espeak_ng_version=str(data["espeak_ng_version"]),
        )
        for entry in data["voice"]
    ]


def starter_clips() -> list[StarterClip]:
    """The shipped clips, in the manifest's order."""
    return parse_manifest(_clips_dir().joinpath(MANIFEST).read_text(encoding="utf-8"))


def read_clip(clip: StarterClip) -> np.ndarray:
    """The clip as 24 kHz mono float32, checked like any reference audio."""
    with ExitStack() as stack:
        path = stack.enter_context(resources.as_file(_clips_dir().joinpath(clip.file)))
        return read_reference_audio(Path(path))


def starter_voice(clip: StarterClip, engine: EmbeddingExtractor) -> Voice:
    """The voice of ``clip`` as ``engine``'s speaker encoder hears it."""
    from livevoice.voices.cli import portable_model_id

    embedding = embed_samples(engine, read_clip(clip))
    meta = VoiceMeta(
        name=clip.name,
        model_id=portable_model_id(str(engine.model_id)),
        dim=0,
        source=f"starter:{clip.file}",
        created=now_iso(),
        note=clip.note,
    )
    return Voice(embedding, meta)


def make_starter_voices(
    library: VoiceLibrary,
    engine: EmbeddingExtractor,
    *,
    force: bool = False,
    clips: Sequence[StarterClip] | None = None,
) -> tuple[list[str], list[str]]:
    """Make every starter voice in ``library``; returns (names made, names skipped because a
    voice of that name exists). With ``force`` existing voices of those names are replaced.

    Each write is atomic; a voice that appears meanwhile (another process) is not replaced.
    """
    made: list[str] = []
    skipped: list[str] = []
    for clip in clips if clips is not None else starter_clips():
        if clip.name in library and not force:
            skipped.append(clip.name)
            continue
        voice = starter_voice(clip, engine)
        try:
            library.add(voice, force=force)
        except VoiceError:
            if clip.name not in library:
                raise
            skipped.append(clip.name)  # made by someone else in the meantime
            continue
        made.append(clip.name)
    return made, skipped


def ensure_starter_voices(library: VoiceLibrary, engine: EmbeddingExtractor) -> list[str]:
    """Give an empty library the starter voices, embedded with ``engine`` (the loaded model).

    Returns the names made, the one to start with first; [] when the library already has
    a voice (then nothing is touched).
    """
    if library.names():
        return []
    made, _ = make_starter_voices(library, engine)
    if made:
        log.warning(
            "the voice library was empty: made starter voices %s in %s", ", ".join(made), library.folder
        )
    return made


def starters_will_fill(library: VoiceLibrary, default_voice: str) -> bool:
    """Whether a daemon starting now gives ``library`` its starter voices, ``default_voice``
    among them: then the voice choice can only be checked once the model is loaded."""
    return not library.names() and default_voice in {"", *(clip.name for clip in starter_clips())}


def start_with_starters(config: Config, library: VoiceLibrary, engine: EmbeddingExtractor) -> Config:
    """After the model loaded: the starter voices for an empty ``library``, and the config to
    start with. Unless ``[voices] default_voice`` chooses one, that is the first starter
    voice (the library's first by name would be another). A library that cannot be written
    is one logged line: the daemon starts without voices."""
    try:
        made = ensure_starter_voices(library, engine)
    except LivevoiceError as err:
        log.error("the starter voices could not be made: %s; add a voice with `livevoice voice add`", err)
        return config
    if made and not config.voices.default_voice:
        return replace(config, "voices", default_voice=made[0])
    return config


# -- making the clips ------------------------------------------------------------


class SynthesizerError(LivevoiceError):
    """espeak-ng is missing or failed."""


def espeak_version(executable: str = "espeak-ng") -> str:
    """The installed espeak-ng's version, e.g. "1.51"."""
    try:
        done = subprocess.run([executable, "--version"], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError) as err:
        raise SynthesizerError(f"{executable} is not usable ({err}); install espeak-ng") from None
    words = done.stdout.split()
    marker = words.index("text-to-speech:") if "text-to-speech:" in words else -1
    return words[marker + 1] if 0 <= marker < len(words) - 1 else done.stdout.strip()


def synthesize_clip(clip: StarterClip, out_path: Path, executable: str = "espeak-ng") -> Path:
    """Synthesize ``clip`` with espeak-ng into ``out_path`` (Ogg Vorbis, espeak's own rate, mono),
    written atomically. Vorbis keeps the clips small (a tenth of FLAC); the speaker encoder
    does not hear the difference."""
    import soundfile

    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "clip.wav"
        command = [executable, *clip.espeak_args(), "-w", str(wav), clip.text]
        try:
            subprocess.run(command, capture_output=True, text=True, check=True)
        except (OSError, subprocess.CalledProcessError) as err:
            raise SynthesizerError(f"espeak-ng failed for {clip.name}: {err}") from None
        audio, rate = soundfile.read(str(wav), dtype="float32")
    buffer = io.BytesIO()
    soundfile.write(buffer, audio, rate, format="OGG", subtype="VORBIS", compression_level=0.6)
    write_atomic(out_path, buffer.getvalue(), force=True)
    out_path.chmod(0o644)
    return out_path


def main(argv: Sequence[str] | None = None) -> int:
    """Synthesize every clip of the manifest into the package's clip folder."""
    if shutil.which("espeak-ng") is None:
        print("espeak-ng is not installed", file=sys.stderr)
        return 1
    folder = Path(str(_clips_dir()))
    clips = starter_clips()
    installed = espeak_version()
    if clips and installed != clips[0].espeak_ng_version:
        print(
            f"note: espeak-ng {installed} is installed; update espeak_ng_version in {MANIFEST}",
            file=sys.stderr,
        )
    for clip in clips:
        path = synthesize_clip(clip, folder / clip.file)
        print(f"{clip.name}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())


__all__ = [
    "StarterClip",
    "ensure_starter_voices",
    "make_starter_voices",
    "parse_manifest",
    "read_clip",
    "start_with_starters",
    "starter_clips",
    "starter_voice",
    "starters_will_fill",
    "synthesize_clip",
]
