"""Control-only mode: the control server over real voices, with no models and no audio devices.

``livevoice run --control-only`` lets app developers build against the protocol on any
machine. :class:`ControlOnlyState` keeps mode, push-to-talk and the current voice
(library voices are real: set, mixed with the voice algebra, morphed with its
schedule), and a real text stage whose settings GetTextOptions/SetTextOptions read and
change; it publishes VoiceChanged/ModeChanged. Requests that need the audio loop
(Speak, StopSpeaking, ListDevices, SetDevices) answer NotAvailable (207).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from livevoice.config import Config, replace
from livevoice.control import auth
from livevoice.control.events import ModeChangedEvent, VoiceChangedEvent
from livevoice.control.records import (
    ApplyWhen,
    CurrentVoice,
    Curve,
    DaemonStats,
    DaemonStatus,
    DeviceList,
    LatencySummary,
    Mode,
    MorphInfo,
    TextOptions,
    VoiceInfo,
)
from livevoice.control.server import ControlServer
from livevoice.control.state import IncompatibleResourcesError, NotAvailableError, ResourceNotFoundError
from livevoice.text.stage import TextStage
from livevoice.voices.algebra import MorphSchedule, mix
from livevoice.voices.embedding import Voice, VoiceError, VoiceMeta
from livevoice.voices.library import VoiceLibrary

log = logging.getLogger(__name__)

EventSink = Callable[[Any], object]
"""Takes an event record (e.g. :meth:`ControlServer.publish_event`)."""


@dataclass(frozen=True)
class _Morph:
    schedule: MorphSchedule
    from_voice: str
    to_voice: str
    t_start_s: float
    """time.monotonic() when it started."""
    duration_ms: int


def _not_available(request_type: str) -> NotAvailableError:
    return NotAvailableError(
        f"{request_type} needs the audio loop; this daemon runs in control-only mode (no models, no audio)"
    )


def _mix_name(names: Sequence[str], weights: Sequence[float]) -> str:
    total = sum(weights)
    parts = [f"{w / total:.3g}*{name}" for name, w in zip(names, weights, strict=True) if w > 0]
    return "mix:" + "+".join(parts)


class ControlOnlyState:
    """A :class:`~livevoice.control.state.DaemonState` without audio: voices, mode, push-to-talk, text."""

    def __init__(
        self, library: VoiceLibrary, current: Voice | None = None, text: TextStage | None = None
    ) -> None:
        self.library = library
        self.text = text if text is not None else TextStage()
        """The text stage SetTextOptions configures (words put through it come out filtered)."""
        self._text_lock = threading.Lock()
        self._lock = threading.Lock()
        self._events: EventSink | None = None
        self._mode: Mode = "convert"
        self._ptt_enabled = False
        self._ptt_pressed = False
        self._voice = current
        self._transient = False
        self._morph: _Morph | None = None

    @classmethod
    def from_config(cls, config: Config) -> ControlOnlyState:
        """The library of the config, starting with ``voices.default_voice`` (or the first voice),
        and a text stage with the ``[text]`` settings (WordFilterError for a bad list file)."""
        library = VoiceLibrary.from_config(config)
        text = TextStage(config.text)
        wanted = config.voices.default_voice
        if wanted:
            return cls(library, library.resolve(wanted), text)
        names = library.names()
        if not names:
            log.warning(
                "the voice library %s holds no voices; add one with `livevoice voice add NAME CLIP.wav`",
                library.folder,
            )
            return cls(library, text=text)
        return cls(library, library.get(names[0]), text)

    def bind_events(self, sink: EventSink) -> None:
        """Where VoiceChanged/ModeChanged go (usually ``server.publish_event``)."""
        self._events = sink

    def _publish(self, event: Any) -> None:
        if self._events is not None:
            self._events(event)

    def _load(self, name: str) -> Voice:
        if name not in self.library:
            known = ", ".join(self.library.names()[:12]) or "none"
            raise ResourceNotFoundError(f"unknown voice {name!r}; known: {known}")
        return self.library.get(name)

    def _settle_morph(self) -> npt.NDArray[np.float32] | None:
        """The current embedding; ends a morph that has arrived. Call with the lock held."""
        if self._voice is None:
            return None
        morph = self._morph
        if morph is None:
            return self._voice.embedding
        elapsed_s = time.monotonic() - morph.t_start_s
        if morph.schedule.done(elapsed_s):
            self._morph = None
            return self._voice.embedding
        return morph.schedule.at(elapsed_s)

    def _switch(self, voice: Voice, transient: bool, morph: _Morph | None = None) -> None:
        """Make ``voice`` current and publish VoiceChanged. Call with the lock held."""
        previous = self._voice.meta.name if self._voice is not None else ""
        self._voice, self._transient, self._morph = voice, transient, morph
        info = self._morph_info(morph) if morph is not None else None
        self._publish(VoiceChangedEvent(voice.meta.name, previous, voice.dim, transient, info))

    @staticmethod
    def _morph_info(morph: _Morph) -> MorphInfo:
        progress = morph.schedule.progress(time.monotonic() - morph.t_start_s)
        curve: Curve = "ease" if morph.schedule.curve == "ease" else "linear"
        return MorphInfo(morph.from_voice, morph.to_voice, morph.duration_ms, curve, round(progress, 4))

    def current_embedding(self) -> npt.NDArray[np.float32] | None:
        """The embedding a phrase starting now would be spoken with (None without a voice)."""
        with self._lock:
            return self._settle_morph()

    # -- DaemonState ----------------------------------------------------------

    def get_status(self) -> DaemonStatus:
        with self._lock:
            return DaemonStatus(
                mode=self._mode,
                voice=self._voice.meta.name if self._voice is not None else "",
                audio_available=False,
                speech_active=False,
                speaking=False,
                push_to_talk_enabled=self._ptt_enabled,
                push_to_talk_pressed=self._ptt_pressed,
            )

    def get_stats(self) -> DaemonStats:
        empty = LatencySummary(count=0)
        return DaemonStats(0, empty, empty, empty, {})

    def list_voices(self) -> list[VoiceInfo]:
        return [
            VoiceInfo(m.name, m.model_id, m.dim, m.source, m.created, m.note) for m in self.library.list()
        ]

    def get_current_voice(self) -> CurrentVoice:
        with self._lock:
            self._settle_morph()
            voice = self._voice
            if voice is None:
                return CurrentVoice("", 0, "", False)
            morph = self._morph_info(self._morph) if self._morph is not None else None
            return CurrentVoice(voice.meta.name, voice.dim, voice.meta.model_id, self._transient, None, morph)

    def set_voice(self, name: str, apply: ApplyWhen) -> None:
        """Without audio there are no phrases: both ``apply`` values take effect at once."""
        voice = self._load(name)
        with self._lock:
            self._switch(voice, transient=False)

    def morph_voice(self, to: str, duration_ms: int, curve: Curve) -> None:
        target = self._load(to)
        with self._lock:
            current = self._settle_morph()
            if self._voice is None or current is None:
                raise ResourceNotFoundError("there is no current voice to morph from; use SetVoice first")
            if current.size != target.dim:
                raise IncompatibleResourcesError(
                    f"cannot morph from {self._voice.meta.name!r} ({current.size} values) to {to!r} "
                    f"({target.dim} values): embeddings of different models never mix"
                )
            schedule = MorphSchedule(current, target.embedding, duration_ms / 1000.0, curve)
            morph = _Morph(schedule, self._voice.meta.name, to, time.monotonic(), duration_ms)
            self._switch(target, transient=False, morph=morph)

    def mix_voices(self, weights: Mapping[str, float], apply: ApplyWhen) -> str:
        names = list(weights)
        voices = [self._load(name) for name in names]
        dims = {v.dim for v in voices}
        if len(dims) > 1:
            sizes = ", ".join(f"{v.meta.name!r} ({v.dim})" for v in voices)
            raise IncompatibleResourcesError(f"cannot mix voices of different sizes: {sizes}")
        values = [float(weights[name]) for name in names]
        embedding = mix([(v.embedding, w) for v, w in zip(voices, values, strict=True)])
        name = _mix_name(names, values)
        meta = voices[0].meta
        mixed = Voice(embedding, VoiceMeta(name=name, model_id=meta.model_id, source=name))
        with self._lock:
            self._switch(mixed, transient=True)
        return name

    def set_mode(self, mode: Mode) -> None:
        with self._lock:
            previous, self._mode = self._mode, mode
            if previous != mode:
                self._publish(ModeChangedEvent(mode, previous))

    def set_push_to_talk(self, pressed: bool, enabled: bool | None) -> None:
        with self._lock:
            self._ptt_pressed = pressed
            if enabled is not None:
                self._ptt_enabled = enabled

    def get_text_options(self) -> TextOptions:
        return TextOptions.from_config(self.text.config)

    def set_text_options(self, changes: Mapping[str, Any]) -> TextOptions:
        with self._text_lock:
            new = replace(Config(text=self.text.config), "text", **changes).text
            self.text.configure(new)
        return TextOptions.from_config(new)

    def speak(self, text: str) -> int:
        raise _not_available("Speak")

    def stop_speaking(self) -> None:
        raise _not_available("StopSpeaking")

    def list_devices(self) -> DeviceList:
        raise _not_available("ListDevices")

    def set_devices(
        self, input_device: str | None, output_device: str | None, monitor_device: str | None
    ) -> None:
        raise _not_available("SetDevices")


def run_control_only(config: Config, *, port: int | None = None) -> int:
    """Serve the control protocol with no models and no audio until SIGINT/SIGTERM; exit status.

    Prints one line with the URL. Raises :class:`~livevoice.errors.LivevoiceError`
    (one line) for a bad default voice, an unusable secret file or a taken port.
    """
    secret_file = auth.secret_path(config)
    secret = auth.load_or_create_secret(secret_file)
    try:
        state = ControlOnlyState.from_config(config)
    except VoiceError as err:
        raise VoiceError(f"control-only mode cannot load voices.default_voice: {err}") from None
    server = ControlServer(state, config.control, secret, port=port)
    state.bind_events(server.publish_event)
    return asyncio.run(_serve(server, secret_file))


async def _serve(server: ControlServer, secret_file: Path) -> int:
    url = await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    print(f"livevoice control-only: listening on {url} (secret file: {secret_file})", flush=True)
    try:
        await stop.wait()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        await server.close()
    return 0


__all__ = ["ControlOnlyState", "run_control_only"]
