"""The narrow interface between the control server and whatever it controls.

The server knows the daemon only as a :class:`DaemonState`: one method per request.
:class:`~livevoice.control.live.LiveState` implements it over the live controls
(:class:`~livevoice.controls.LiveControls`) and, in the daemon, an :class:`AudioLoop`
for the requests that need audio; without one (``livevoice run --control-only``) those
answer NotAvailable.

Threading contract: the server calls these methods from one worker thread of its
own, one call at a time, never on its asyncio loop, so a method may block briefly
(e.g. to read a voice file). Methods should return quickly: they record an intent
(a voice to apply at the next phrase, a text to speak) and let the pipeline act on
it. The daemon's own threads may change the state concurrently, so
implementations guard their fields with a lock.

Errors: a method raises a :class:`ControlRequestError` subclass to answer a precise
status code (NotAvailable, ResourceNotFound, ...); any other
:class:`~livevoice.errors.LivevoiceError` answers RequestProcessingFailed (702) with
its message; anything else is a bug, logged, answered GenericError (205).

Events go the other way: the daemon calls
:meth:`ControlServer.publish <livevoice.control.server.ControlServer.publish>` from
any thread; it never blocks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from livevoice.audio.devices import DeviceInfo as AudioDevice
from livevoice.config import AudioConfig
from livevoice.control.codes import RequestStatus
from livevoice.control.records import (
    ApplyWhen,
    CurrentVoice,
    Curve,
    DaemonStats,
    DaemonStatus,
    DeviceList,
    Mode,
    TextOptions,
    VoiceInfo,
)
from livevoice.errors import LivevoiceError
from livevoice.frames import LoopStats


class ControlRequestError(LivevoiceError):
    """A request the daemon refuses, answered with :attr:`status` and the message as comment."""

    status: RequestStatus = RequestStatus.REQUEST_PROCESSING_FAILED


class NotAvailableError(ControlRequestError):
    """The request needs the audio loop, which is not running (control-only mode)."""

    status = RequestStatus.NOT_AVAILABLE


class ResourceNotFoundError(ControlRequestError):
    """A named voice or device does not exist."""

    status = RequestStatus.RESOURCE_NOT_FOUND


class IncompatibleResourcesError(ControlRequestError):
    """Resources that cannot be combined, e.g. voices with embeddings of different sizes."""

    status = RequestStatus.INCOMPATIBLE_RESOURCES


class DaemonState(Protocol):
    """What the control server reads and changes; one method per request."""

    def get_status(self) -> DaemonStatus:
        """GetStatus."""
        ...

    def get_stats(self) -> DaemonStats:
        """GetStats (the server adds its own counters)."""
        ...

    def list_voices(self) -> Sequence[VoiceInfo]:
        """ListVoices: the library's voices, sorted by name."""
        ...

    def get_current_voice(self) -> CurrentVoice:
        """GetCurrentVoice."""
        ...

    def set_voice(self, name: str, apply: ApplyWhen) -> None:
        """SetVoice: make library voice ``name`` current, at the next phrase or ``now``.

        Raises :class:`ResourceNotFoundError` for an unknown voice and
        :class:`IncompatibleResourcesError` for one the loaded model cannot use.
        Publishes VoiceChanged when the voice actually changes.
        """
        ...

    def morph_voice(self, to: str, duration_ms: int, curve: Curve) -> None:
        """MorphVoice: move from the current voice to ``to`` over ``duration_ms`` along ``curve``."""
        ...

    def mix_voices(self, weights: Mapping[str, float], apply: ApplyWhen) -> str:
        """MixVoices: make the weighted mix current; returns the transient voice's name."""
        ...

    def set_mode(self, mode: Mode) -> None:
        """SetMode; publishes ModeChanged when the mode changes."""
        ...

    def set_push_to_talk(self, pressed: bool, enabled: bool | None) -> None:
        """SetPushToTalk: press/release; ``enabled`` (when not None) switches gating on or off."""
        ...

    def get_text_options(self) -> TextOptions:
        """GetTextOptions: the text stage's settings in force."""
        ...

    def set_text_options(self, changes: Mapping[str, Any]) -> TextOptions:
        """SetTextOptions: change the ``[text]`` keys named in ``changes`` (snake_case); the new settings.

        Validates like the config file and reads the word list before anything changes:
        raises :class:`~livevoice.errors.ConfigError` for a value that is not allowed and
        :class:`~livevoice.text.filter.WordFilterError` for a list file that is missing,
        unreadable or malformed, leaving the old settings in force. Takes effect from the
        next words the text stage gets; reads a file, so never call it on the event loop.
        """
        ...

    def speak(self, text: str) -> int:
        """Speak ``text`` in the current voice; returns its utterance id. Needs the audio loop."""
        ...

    def stop_speaking(self) -> None:
        """StopSpeaking: cut what is spoken and drop queued phrases. Needs the audio loop."""
        ...

    def list_devices(self) -> DeviceList:
        """ListDevices. Needs the audio loop."""
        ...

    def set_devices(
        self, input_device: str | None, output_device: str | None, monitor_device: str | None
    ) -> None:
        """SetDevices: reopen the named devices (None = unchanged). Needs the audio loop.

        Raises :class:`ResourceNotFoundError` for a device that does not exist.
        """
        ...


class AudioLoop(Protocol):
    """The running audio loop as the control layer needs it (the daemon implements it).

    Same threading contract as :class:`DaemonState`. A loop being reopened (devices
    changing or lost) still answers: nothing active, empty figures; :meth:`speak` then
    raises :class:`~livevoice.errors.LivevoiceError`.
    """

    @property
    def asr_device(self) -> str:
        """Where speech recognition really runs ("cuda", or "cpu", also after a CUDA failure)."""
        ...

    def activity(self) -> tuple[bool, bool]:
        """(speech_active, speaking): the VAD is inside an utterance; speech is being played."""
        ...

    def stats(self) -> LoopStats:
        """Latency figures and counters."""
        ...

    def speak(self, text: str) -> int:
        """Speak typed text in the current voice; its utterance id."""
        ...

    def stop_speaking(self) -> None:
        """Cut what is spoken and drop queued phrases."""
        ...

    def devices(self) -> tuple[Sequence[AudioDevice], AudioConfig]:
        """The devices there are, and the ``[audio]`` settings naming the ones in use."""
        ...

    def set_devices(
        self, input_device: str | None, output_device: str | None, monitor_device: str | None
    ) -> None:
        """Reopen the loop on other devices (None = unchanged); DeviceError for one that does not exist."""
        ...


__all__ = [
    "AudioLoop",
    "ControlRequestError",
    "DaemonState",
    "IncompatibleResourcesError",
    "NotAvailableError",
    "ResourceNotFoundError",
]
