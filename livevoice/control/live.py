"""The daemon state the control server serves: the live controls, and the audio loop if there is one.

:class:`LiveState` is the one :class:`~livevoice.control.state.DaemonState`. It reads and
writes the :class:`~livevoice.controls.LiveControls` (the only owner of mode,
push-to-talk, voice and text settings) and asks the :class:`~livevoice.control.state.AudioLoop`
for what needs audio. Without a loop (``livevoice run --control-only``) Speak,
StopSpeaking, ListDevices and SetDevices answer NotAvailable (207). Here the loop's
records and errors become protocol records and status codes; nothing else is kept.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

from livevoice.control.records import (
    ApplyWhen,
    CurrentVoice,
    Curve,
    DaemonStats,
    DaemonStatus,
    DeviceInfo,
    DeviceList,
    LatencySummary,
    MorphInfo,
    TextOptions,
    VoiceInfo,
)
from livevoice.control.state import (
    AudioLoop,
    IncompatibleResourcesError,
    NotAvailableError,
    ResourceNotFoundError,
)
from livevoice.controls import IncompatibleVoiceError, LiveControls, VoiceNotFoundError
from livevoice.errors import DeviceError
from livevoice.frames import Mode


def _not_available(request_type: str) -> NotAvailableError:
    return NotAvailableError(
        f"{request_type} needs the audio loop; this daemon runs in control-only mode (no models, no audio)"
    )


@contextlib.contextmanager
def _voice_statuses() -> Iterator[None]:
    """The controls' voice errors as the status codes they answer."""
    try:
        yield
    except VoiceNotFoundError as err:
        raise ResourceNotFoundError(str(err)) from None
    except IncompatibleVoiceError as err:
        raise IncompatibleResourcesError(str(err)) from None


class LiveState:
    """A :class:`~livevoice.control.state.DaemonState` over live controls and an optional audio loop."""

    def __init__(self, controls: LiveControls, loop: AudioLoop | None = None) -> None:
        self.controls = controls
        self.loop = loop

    def _loop(self, request_type: str) -> AudioLoop:
        if self.loop is None:
            raise _not_available(request_type)
        return self.loop

    # -- reads ------------------------------------------------------------------

    def get_status(self) -> DaemonStatus:
        speech_active, speaking = self.loop.activity() if self.loop is not None else (False, False)
        enabled, pressed = self.controls.push_to_talk
        return DaemonStatus(
            mode=self.controls.mode,
            voice=self.controls.voice_name,
            audio_available=self.loop is not None,
            speech_active=speech_active,
            speaking=speaking,
            push_to_talk_enabled=enabled,
            push_to_talk_pressed=pressed,
            asr_device=self.loop.asr_device if self.loop is not None else "",
        )

    def get_stats(self) -> DaemonStats:
        if self.loop is None:
            empty = LatencySummary(count=0)
            return DaemonStats(0, empty, empty, empty, {})
        stats = self.loop.stats()
        return DaemonStats(
            utterances=stats.utterances,
            tts_first_packet=LatencySummary.from_values(stats.tts_first_packet_ms),
            output_first_packet=LatencySummary.from_values(stats.output_first_packet_ms),
            mouth_to_ear=LatencySummary.from_values(stats.mouth_to_ear_ms),
            counters=stats.counters,
            tts_real_time_factor=round(stats.tts_real_time_factor, 3),
        )

    def list_voices(self) -> list[VoiceInfo]:
        return [
            VoiceInfo(m.name, m.model_id, m.dim, m.source, m.created, m.note)
            for m in self.controls.library.list()
        ]

    def get_current_voice(self) -> CurrentVoice:
        voice = self.controls.current_voice()
        if voice is None:
            return CurrentVoice("", 0, "", False)
        morph = None
        if voice.morph is not None:
            m = voice.morph
            morph = MorphInfo(m.from_voice, m.to_voice, m.duration_ms, m.curve, m.progress)
        return CurrentVoice(voice.name, voice.dim, voice.model_id, voice.transient, None, morph)

    def get_text_options(self) -> TextOptions:
        return TextOptions.from_config(self.controls.text_settings.config)

    # -- changes ----------------------------------------------------------------

    def set_voice(self, name: str, apply: ApplyWhen) -> None:
        """Without audio there are no phrases: both ``apply`` values take effect at once."""
        with _voice_statuses():
            self.controls.set_voice(name, apply)

    def morph_voice(self, to: str, duration_ms: int, curve: Curve) -> None:
        with _voice_statuses():
            self.controls.morph_voice(to, duration_ms, curve)

    def mix_voices(self, weights: Mapping[str, float], apply: ApplyWhen) -> str:
        with _voice_statuses():
            return self.controls.mix_voices(weights, apply)

    def set_mode(self, mode: Mode) -> None:
        self.controls.set_mode(mode)

    def set_push_to_talk(self, pressed: bool, enabled: bool | None) -> None:
        self.controls.set_push_to_talk(pressed, enabled)

    def set_text_options(self, changes: Mapping[str, Any]) -> TextOptions:
        return TextOptions.from_config(self.controls.set_text_options(changes))

    # -- the audio loop ---------------------------------------------------------

    def speak(self, text: str) -> int:
        return self._loop("Speak").speak(text)

    def stop_speaking(self) -> None:
        self._loop("StopSpeaking").stop_speaking()

    def list_devices(self) -> DeviceList:
        devices, audio = self._loop("ListDevices").devices()
        wire = tuple(
            DeviceInfo(
                d.index, d.name, d.hostapi, d.max_input_channels, d.max_output_channels, d.default_sample_rate
            )
            for d in devices
        )
        return DeviceList(wire, audio.input_device, audio.output_device, audio.monitor_device)

    def set_devices(
        self, input_device: str | None, output_device: str | None, monitor_device: str | None
    ) -> None:
        loop = self._loop("SetDevices")
        try:
            loop.set_devices(input_device, output_device, monitor_device)
        except DeviceError as err:
            raise ResourceNotFoundError(str(err)) from None


__all__ = ["LiveState"]
