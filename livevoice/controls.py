"""The live controls: the one owner of what apps change while the loop runs.

Mode, push-to-talk, the current voice (set, mixed or morphing) and the text-stage
settings live here and nowhere else. The pipeline reads them (the mode and
push-to-talk at every captured block, the voice at every phrase start, the text
settings at every batch of words); the control layer writes them; the daemon wires the
two. A pipeline rebuilt after a device change reads the same object, so nothing has to
be copied across.

Every change is announced as a :data:`~livevoice.frames.ControlChange` record
(:class:`~livevoice.frames.ModeChanged`, :class:`~livevoice.frames.VoiceChanged`) to the
one listener the daemon sets: it cuts speech when needed and turns the record into an
event. Changes are made one at a time and announced in their order, outside the lock
the loop's readers take (so a reader never waits for a listener).

Thread-safe: the control server's worker thread writes, the loop's threads read, and
the loop itself may write (falling back to passthrough after a failure). Errors a user
can cause are :class:`~livevoice.voices.embedding.VoiceError` subclasses with one-line
messages; the control layer maps them to status codes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from livevoice.config import Config, TextConfig, replace
from livevoice.frames import (
    ApplyWhen,
    ControlChange,
    Curve,
    FloatArray,
    Mode,
    ModeChanged,
    MorphProgress,
    VoiceChanged,
)
from livevoice.text.stage import TextSettings
from livevoice.voices.algebra import MorphSchedule, mix
from livevoice.voices.embedding import Voice, VoiceError, VoiceMeta
from livevoice.voices.library import VoiceLibrary

log = logging.getLogger(__name__)

Listener = Callable[[ControlChange], object]
"""Takes each change record; called in the thread that made the change, never under the lock."""


class VoiceNotFoundError(VoiceError):
    """A voice that is not in the library, or no current voice to start from."""


class IncompatibleVoiceError(VoiceError):
    """Voices that cannot be combined or spoken: embeddings of different sizes."""


@dataclass(frozen=True, slots=True)
class CurrentVoice:
    """The current voice as apps see it."""

    name: str
    dim: int
    model_id: str
    transient: bool
    """True for a voice that is not in the library (a mix)."""
    morph: MorphProgress | None
    """The morph in progress, if any (``name`` is then its destination)."""


@dataclass(frozen=True)
class _Morph:
    schedule: MorphSchedule
    from_voice: str
    to_voice: str
    t_start_s: float
    """Clock reading when it started."""
    duration_ms: int


def _mix_name(names: Sequence[str], weights: Sequence[float]) -> str:
    total = sum(weights)
    parts = [f"{w / total:.3g}*{name}" for name, w in zip(names, weights, strict=True) if w > 0]
    return "mix:" + "+".join(parts)


class LiveControls:
    """Mode, push-to-talk, current voice and morph, text settings; read by the loop, written by apps.

    ``model_dim`` is the embedding size of the loaded TTS model: voices of another size
    are refused (None without a model, in control-only mode: only mixes and morphs are
    checked among themselves). ``clock`` (seconds) times morphs.
    """

    def __init__(
        self,
        library: VoiceLibrary,
        voice: Voice | None = None,
        text: TextConfig | TextSettings | None = None,
        *,
        mode: Mode = "convert",
        model_dim: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.library = library
        self.model_dim = model_dim
        self._clock = clock
        self._lock = threading.Lock()
        """Guards the fields; readers and writers hold it briefly."""
        self._writer = threading.RLock()
        """One change (and its announcement) at a time; re-entrant for a listener that changes more."""
        self._listener: Listener | None = None
        self._mode: Mode = mode
        self._ptt_enabled = False
        self._ptt_pressed = False
        if voice is not None:
            self._check_model_dim(voice.dim, voice.meta.name)
        self._voice = voice
        self._transient = False
        self._morph: _Morph | None = None
        self._text = text if isinstance(text, TextSettings) else TextSettings.load(text or TextConfig())

    @classmethod
    def from_config(cls, config: Config, *, model_dim: int | None = None) -> LiveControls:
        """The library of the config starting with ``voices.default_voice`` (or the first voice),
        the ``[text]`` settings (WordFilterError for a bad list file) and ``daemon.mode``."""
        library = VoiceLibrary.from_config(config)
        text = TextSettings.load(config.text)
        mode: Mode = config.daemon.mode  # type: ignore[assignment]  # validated by the config
        wanted = config.voices.default_voice
        voice: Voice | None = None
        if wanted:
            voice = library.resolve(wanted)
        elif names := library.names():
            voice = library.get(names[0])
        else:
            log.warning(
                "the voice library %s holds no voices; add one with `livevoice voice add NAME CLIP.wav`",
                library.folder,
            )
        return cls(library, voice, text, mode=mode, model_dim=model_dim)

    def listen(self, listener: Listener | None) -> None:
        """Where change records go (the daemon's router, or the control server)."""
        self._listener = listener

    def _announce(self, change: ControlChange | None) -> None:
        if change is not None and self._listener is not None:
            self._listener(change)

    # -- what the loop reads --------------------------------------------------------

    @property
    def mode(self) -> Mode:
        return self._mode

    @property
    def push_to_talk(self) -> tuple[bool, bool]:
        """(enabled, pressed)."""
        with self._lock:
            return self._ptt_enabled, self._ptt_pressed

    def _gate_open(self) -> bool:
        return not self._ptt_enabled or self._ptt_pressed

    def listening(self) -> bool:
        """Whether the microphone reaches the recogniser now (convert mode, push-to-talk permitting)."""
        return self._mode == "convert" and self._gate_open()

    def passing_through(self) -> bool:
        """Whether the microphone goes straight to the output now (passthrough, push-to-talk permitting)."""
        return self._mode == "passthrough" and self._gate_open()

    def voice_for_phrase(self) -> FloatArray | None:
        """The embedding a phrase starting now is spoken in (None without a voice); ends a
        morph that has arrived."""
        with self._lock:
            return self._settle_morph()

    @property
    def text_settings(self) -> TextSettings:
        """The text-stage settings in force (loaded)."""
        return self._text

    # -- what apps read -------------------------------------------------------------

    @property
    def voice_name(self) -> str:
        """Name of the current voice ("" without one)."""
        voice = self._voice
        return voice.meta.name if voice is not None else ""

    def current_voice(self) -> CurrentVoice | None:
        """The current voice and the morph in progress (None without a voice)."""
        with self._lock:
            self._settle_morph()
            voice = self._voice
            if voice is None:
                return None
            morph = self._progress(self._morph) if self._morph is not None else None
            return CurrentVoice(voice.meta.name, voice.dim, voice.meta.model_id, self._transient, morph)

    # -- what apps change -----------------------------------------------------------

    def set_voice(self, name: str, apply: ApplyWhen = "phrase") -> None:
        """Make library voice ``name`` current from the next phrase (``now``: cut the one spoken)."""
        voice = self._load(name)
        self._check_model_dim(voice.dim, name)
        with self._writer:
            with self._lock:
                change = self._switch(voice, transient=False, apply=apply)
            self._announce(change)

    def morph_voice(self, to: str, duration_ms: int, curve: Curve = "linear") -> None:
        """Move from the current voice (where a morph has got to) to ``to`` over ``duration_ms``."""
        target = self._load(to)
        self._check_model_dim(target.dim, to)
        with self._writer:
            with self._lock:
                current = self._settle_morph()
                if self._voice is None or current is None:
                    raise VoiceNotFoundError("there is no current voice to morph from; use SetVoice first")
                if current.size != target.dim:
                    raise IncompatibleVoiceError(
                        f"cannot morph from {self._voice.meta.name!r} ({current.size} values) to {to!r} "
                        f"({target.dim} values): embeddings of different models never mix"
                    )
                schedule = MorphSchedule(current, target.embedding, duration_ms / 1000.0, curve)
                morph = _Morph(schedule, self._voice.meta.name, to, self._clock(), duration_ms)
                change = self._switch(target, transient=False, morph=morph)
            self._announce(change)

    def mix_voices(self, weights: Mapping[str, float], apply: ApplyWhen = "phrase") -> str:
        """Make the weighted mix of library voices current (a transient voice); returns its name."""
        names = list(weights)
        voices = [self._load(name) for name in names]
        for voice in voices:
            self._check_model_dim(voice.dim, voice.meta.name)
        if len({v.dim for v in voices}) > 1:
            sizes = ", ".join(f"{v.meta.name!r} ({v.dim})" for v in voices)
            raise IncompatibleVoiceError(f"cannot mix voices of different sizes: {sizes}")
        values = [float(weights[name]) for name in names]
        embedding = mix([(v.embedding, w) for v, w in zip(voices, values, strict=True)])
        name = _mix_name(names, values)
        meta = voices[0].meta
        mixed = Voice(embedding, VoiceMeta(name=name, model_id=meta.model_id, source=name))
        with self._writer:
            with self._lock:
                change = self._switch(mixed, transient=True, apply=apply)
            self._announce(change)
        return name

    def set_mode(self, mode: Mode) -> None:
        """Switch mode (announced when it changes)."""
        with self._writer:
            with self._lock:
                previous, self._mode = self._mode, mode
            self._announce(ModeChanged(mode, previous) if previous != mode else None)

    def set_push_to_talk(self, pressed: bool, enabled: bool | None = None) -> None:
        """Press or release push-to-talk; ``enabled`` (when not None) switches gating on or off."""
        with self._lock:
            self._ptt_pressed = pressed
            if enabled is not None:
                self._ptt_enabled = enabled

    def set_text_options(self, changes: Mapping[str, Any]) -> TextConfig:
        """Change some ``[text]`` keys (snake_case); returns the settings now in force.

        Validated like the config file (:class:`~livevoice.errors.ConfigError`) and the list
        file read (:class:`~livevoice.text.filter.WordFilterError`) before anything changes.
        """
        with self._writer:
            new = replace(Config(text=self._text.config), "text", **changes).text
            self._text = TextSettings.load(new)
        return new

    def set_text_config(self, config: TextConfig) -> None:
        """Put a whole ``[text]`` section in force (a reloaded config); raises as
        :meth:`set_text_options` does, changing nothing."""
        with self._writer:
            self._text = TextSettings.load(config)

    # -- inside ---------------------------------------------------------------------

    def _load(self, name: str) -> Voice:
        if name not in self.library:
            known = ", ".join(self.library.names()[:12]) or "none"
            raise VoiceNotFoundError(f"unknown voice {name!r}; known: {known}")
        return self.library.get(name)

    def _check_model_dim(self, dim: int, name: str) -> None:
        if self.model_dim is not None and dim != self.model_dim:
            raise IncompatibleVoiceError(
                f"voice {name!r} has {dim} values but the loaded TTS model takes {self.model_dim}"
            )

    def _settle_morph(self) -> FloatArray | None:
        """The current embedding; ends a morph that has arrived. Call with the lock held."""
        if self._voice is None:
            return None
        morph = self._morph
        if morph is None:
            return self._voice.embedding
        elapsed_s = self._clock() - morph.t_start_s
        if morph.schedule.done(elapsed_s):
            self._morph = None
            return self._voice.embedding
        return morph.schedule.at(elapsed_s)

    def _switch(
        self, voice: Voice, *, transient: bool, morph: _Morph | None = None, apply: ApplyWhen = "phrase"
    ) -> VoiceChanged:
        """Make ``voice`` current; the record to announce. Call with the lock held."""
        previous = self._voice.meta.name if self._voice is not None else ""
        self._voice, self._transient, self._morph = voice, transient, morph
        progress = self._progress(morph) if morph is not None else None
        return VoiceChanged(voice.meta.name, previous, voice.dim, transient, progress, apply)

    def _progress(self, morph: _Morph) -> MorphProgress:
        progress = morph.schedule.progress(self._clock() - morph.t_start_s)
        curve: Curve = "ease" if morph.schedule.curve == "ease" else "linear"
        return MorphProgress(morph.from_voice, morph.to_voice, morph.duration_ms, curve, round(progress, 4))


__all__ = ["CurrentVoice", "IncompatibleVoiceError", "Listener", "LiveControls", "VoiceNotFoundError"]
