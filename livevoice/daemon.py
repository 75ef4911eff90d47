"""The daemon process: load the models once, run the loop and the control server, and
survive what a long stream throws at it (device loss, model errors, signals).

Start-up order: config -> devices -> voices -> models (ASR, VAD, TTS with warm-up) ->
control server -> pipeline -> READY (sd_notify and one line on stderr). SIGTERM and
SIGINT drain queued speech briefly and stop cleanly; SIGHUP reloads the config file
(the text-stage settings take effect at once; the others need a restart and say so).
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from livevoice import service
from livevoice.audio.budget import BufferPlan, plan_buffers
from livevoice.audio.devices import DeviceInfo, choose_device, list_devices
from livevoice.config import Config, load_config
from livevoice.control.events import DeviceLostEvent, DeviceRestoredEvent, ErrorEvent
from livevoice.control.records import (
    ApplyWhen,
    DaemonStats,
    DaemonStatus,
    DeviceList,
    LatencySummary,
    Mode,
)
from livevoice.control.records import DeviceInfo as WireDevice
from livevoice.control.standalone import ControlOnlyState
from livevoice.control.state import IncompatibleResourcesError, ResourceNotFoundError
from livevoice.errors import DeviceError, LivevoiceError
from livevoice.frames import FloatArray
from livevoice.pipeline import Pipeline

log = logging.getLogger(__name__)

ROLES = ("input", "output", "monitor")


def resolve_devices(config: Config, *, refresh: bool = False) -> dict[str, DeviceInfo | None]:
    """The configured devices; DeviceError (one line) for one that does not exist."""
    devices = list_devices(refresh=refresh)
    audio = config.audio
    return {
        "input": choose_device(audio.input_device, "input", devices),
        "output": choose_device(audio.output_device, "output", devices),
        "monitor": choose_device(audio.monitor_device, "output", devices) if audio.monitor_device else None,
    }


@dataclass
class Models:
    """What is loaded once and outlives pipeline rebuilds (device changes)."""

    recognizer: Any
    vad: Any
    engine: Any


@dataclass
class DeviceWatch:
    """Health of the pipeline's streams, checked by the main loop."""

    lost: dict[str, str] = field(default_factory=dict)
    """role -> reason, while a device is gone."""
    last_callbacks: dict[str, int] = field(default_factory=dict)
    last_change_s: dict[str, float] = field(default_factory=dict)


class LiveState(ControlOnlyState):
    """The control server's view of the running daemon (see control/state.py)."""

    def __init__(self, daemon: Daemon, base: ControlOnlyState) -> None:
        super().__init__(base.library, base._voice)
        self.daemon = daemon

    def _check_dim(self, dim: int, name: str) -> None:
        expected = self.daemon.models.engine.embedding_dim
        if dim != expected:
            raise IncompatibleResourcesError(
                f"voice {name!r} has {dim} values but the loaded TTS model takes {expected}"
            )

    def get_status(self) -> DaemonStatus:
        status = super().get_status()
        pipeline = self.daemon.pipeline
        return DaemonStatus(
            mode=pipeline.mode if pipeline else status.mode,
            voice=status.voice,
            audio_available=True,
            speech_active=bool(pipeline and pipeline.speech_active),
            speaking=bool(pipeline and pipeline.speaking),
            push_to_talk_enabled=status.push_to_talk_enabled,
            push_to_talk_pressed=status.push_to_talk_pressed,
        )

    def get_stats(self) -> DaemonStats:
        pipeline = self.daemon.pipeline
        if pipeline is None:
            return super().get_stats()
        figures = pipeline.tracker.snapshot()
        counters = pipeline.counters()
        counters["devicesLost"] = len(self.daemon.watch.lost)
        return DaemonStats(
            utterances=pipeline.tracker.completed,
            tts_first_packet=LatencySummary.from_values(figures["tts_first_packet_ms"]),
            output_first_packet=LatencySummary.from_values(figures["output_first_packet_ms"]),
            mouth_to_ear=LatencySummary.from_values(figures["mouth_to_ear_ms"]),
            counters=counters,
        )

    def set_voice(self, name: str, apply: ApplyWhen) -> None:
        voice = self._load(name)
        self._check_dim(voice.dim, name)
        super().set_voice(name, apply)
        if apply == "now" and self.daemon.pipeline is not None:
            self.daemon.pipeline.tts.skip_current()

    def morph_voice(self, to: str, duration_ms: int, curve: Any) -> None:
        self._check_dim(self._load(to).dim, to)
        super().morph_voice(to, duration_ms, curve)

    def mix_voices(self, weights: Mapping[str, float], apply: ApplyWhen) -> str:
        for name in weights:
            self._check_dim(self._load(name).dim, name)
        mixed = super().mix_voices(weights, apply)
        if apply == "now" and self.daemon.pipeline is not None:
            self.daemon.pipeline.tts.skip_current()
        return mixed

    def set_mode(self, mode: Mode) -> None:
        super().set_mode(mode)
        if self.daemon.pipeline is not None:
            self.daemon.pipeline.set_mode(mode)

    def set_push_to_talk(self, pressed: bool, enabled: bool | None) -> None:
        super().set_push_to_talk(pressed, enabled)
        status = super().get_status()
        self.daemon.push_to_talk = (status.push_to_talk_enabled, status.push_to_talk_pressed)
        if self.daemon.pipeline is not None:
            self.daemon.pipeline.push_to_talk_enabled = status.push_to_talk_enabled
            self.daemon.pipeline.push_to_talk_pressed = status.push_to_talk_pressed

    def speak(self, text: str) -> int:
        pipeline = self.daemon.pipeline
        if pipeline is None:
            raise LivevoiceError("the audio loop is restarting; try again in a moment")
        return pipeline.speak(text)

    def stop_speaking(self) -> None:
        if self.daemon.pipeline is not None:
            self.daemon.pipeline.stop_speaking()

    def list_devices(self) -> DeviceList:
        devices = list_devices()
        audio = self.daemon.config.audio
        wire = tuple(
            WireDevice(
                d.index, d.name, d.hostapi, d.max_input_channels, d.max_output_channels, d.default_sample_rate
            )
            for d in devices
        )
        return DeviceList(wire, audio.input_device, audio.output_device, audio.monitor_device)

    def set_devices(
        self, input_device: str | None, output_device: str | None, monitor_device: str | None
    ) -> None:
        try:
            self.daemon.change_devices(input_device, output_device, monitor_device)
        except DeviceError as err:
            raise ResourceNotFoundError(str(err)) from None


class Daemon:
    """Owns the models, the pipeline (rebuilt when devices change) and the control server."""

    def __init__(self, config: Config, config_path: Path | None, models: Models, json_events: bool) -> None:
        self.config = config
        self.config_path = config_path
        self.models = models
        self.json_events = json_events
        self.plan: BufferPlan = plan_buffers(config.audio.latency_budget_ms, config.audio.sample_rate)
        self.pipeline: Pipeline | None = None
        self.state: LiveState | None = None
        self.server: Any = None
        self.watch = DeviceWatch()
        self.push_to_talk = (False, False)
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._reload = threading.Event()

    # -- events -----------------------------------------------------------------

    def publish(self, event: Any) -> None:
        """Every event goes to the control server and, for transcripts, to stdout."""
        if self.server is not None:
            self.server.publish_event(event)
        if event.event_type == "TranscriptFinal":
            if self.json_events:
                print(
                    json.dumps(
                        {"type": "TranscriptFinal", "utteranceId": event.utterance_id, "text": event.text}
                    )
                )
            else:
                print(f"[{event.start_ms / 1000:7.2f}] {event.text}", flush=True)

    def voice_for_phrase(self) -> FloatArray | None:
        state = self.state
        return state.current_embedding() if state is not None else None

    # -- pipeline -----------------------------------------------------------------

    def build_pipeline(self, devices: dict[str, DeviceInfo | None]) -> Pipeline:
        pipeline = Pipeline(
            self.config,
            self.plan,
            devices,
            self.models.recognizer,
            self.models.vad,
            self.models.engine,
            self.voice_for_phrase,
            self.publish,
        )
        pipeline.push_to_talk_enabled, pipeline.push_to_talk_pressed = self.push_to_talk
        if self.state is not None:
            pipeline.mode = self.state.get_status().mode
        pipeline.start()
        return pipeline

    def change_devices(
        self, input_device: str | None, output_device: str | None, monitor_device: str | None
    ) -> None:
        """Reopen the loop on other devices (None = unchanged); DeviceError if one does not exist."""
        from livevoice.config import replace

        changes = {
            key: value
            for key, value in (
                ("input_device", input_device),
                ("output_device", output_device),
                ("monitor_device", monitor_device),
            )
            if value is not None
        }
        with self._lock:
            new_config = replace(self.config, "audio", **changes)
            devices = resolve_devices(new_config)
            old = self.pipeline
            self.pipeline = None
            if old is not None:
                old.stop()
            self.config = new_config
            self.pipeline = self.build_pipeline(devices)

    def check_devices(self) -> None:
        """Main loop: notice a stream that died or stalled; reopen what was lost."""
        with self._lock:
            pipeline = self.pipeline
            now = time.monotonic()
            if pipeline is not None:
                streams = {"input": pipeline.front.capture, "output": pipeline.output.stream}
                for role, stream in streams.items():
                    calls = stream.callbacks
                    if calls != self.watch.last_callbacks.get(role):
                        self.watch.last_callbacks[role] = calls
                        self.watch.last_change_s[role] = now
                    stalled = now - self.watch.last_change_s.get(role, now) > 2.0
                    if (stream.finished or stalled) and role not in self.watch.lost:
                        reason = "the stream stopped" if stream.finished else "no audio callbacks for 2 s"
                        self.watch.lost[role] = reason
                        log.warning("%s device %r lost: %s", role, stream.device_name, reason)
                        self.publish(DeviceLostEvent(role, stream.device_name, reason))  # type: ignore[arg-type]
                if self.watch.lost:
                    self.pipeline = None
                    pipeline.stop()
                    pipeline = None
            if pipeline is None and self.watch.lost:
                self._try_reopen()

    def _try_reopen(self) -> None:
        try:
            devices = resolve_devices(self.config, refresh=True)
            self.pipeline = self.build_pipeline(devices)
        except LivevoiceError as err:
            log.info("devices not back yet: %s", err)
            return
        self.watch.last_callbacks.clear()
        self.watch.last_change_s.clear()
        for role in list(self.watch.lost):
            device = devices.get(role)
            self.publish(DeviceRestoredEvent(role, device.name if device else "default"))  # type: ignore[arg-type]
            log.warning("%s device restored", role)
        self.watch.lost.clear()

    # -- signals ----------------------------------------------------------------

    def request_stop(self) -> None:
        self._stop.set()

    def request_reload(self) -> None:
        self._reload.set()

    def reload(self) -> None:
        """SIGHUP: re-read the config; apply the text settings, report the rest."""
        service.notify_reloading("reloading the config")
        try:
            new = load_config(self.config_path)
        except LivevoiceError as err:
            log.error("config not reloaded: %s", err)
            self.publish(ErrorEvent("config", f"config not reloaded: {err}"))
            service.notify_ready("running (config reload failed)")
            return
        with self._lock:
            if self.pipeline is not None:
                self.pipeline.text.configure(new.text)
            changed = [
                s
                for s in ("audio", "vad", "asr", "tts", "control")
                if getattr(new, s) != getattr(self.config, s)
            ]
            self.config = new
        if changed:
            log.warning("config reloaded; changes to [%s] take effect after a restart", "], [".join(changed))
        else:
            log.warning("config reloaded")
        service.notify_ready("running")

    def run(self) -> int:
        """Main thread: start everything, then watch until asked to stop."""
        from livevoice.control import auth
        from livevoice.control.server import ControlServer, ControlServerThread

        log.warning("%s", self.plan.describe())
        devices = resolve_devices(self.config)
        base = ControlOnlyState.from_config(self.config)
        self.state = LiveState(self, base)
        if base._voice is not None:
            self.state._check_dim(base._voice.dim, base._voice.meta.name)
        secret = auth.load_or_create_secret(auth.secret_path(self.config))
        self.server = ControlServer(self.state, self.config.control, secret)
        self.state.bind_events(self.server.publish_event)
        server_thread = ControlServerThread(self.server)
        url = server_thread.start()
        try:
            self.pipeline = self.build_pipeline(devices)
            names = {
                role: (d.name if d else "default") for role, d in devices.items() if role != "monitor" or d
            }
            ready = (
                f"livevoice: ready; listening on {names['input']!r}, speaking into {names['output']!r}; "
                f"control {url}"
            )
            print(ready, file=sys.stderr, flush=True)
            service.notify_ready("running")
            watchdog = service.watchdog_interval_s()
            while not self._stop.wait(0.25):
                if watchdog:
                    service.notify_watchdog()
                if self._reload.is_set():
                    self._reload.clear()
                    self.reload()
                self.check_devices()
        finally:
            service.notify_stopping("stopping")
            with self._lock:
                pipeline, self.pipeline = self.pipeline, None
            if pipeline is not None:
                pipeline.stop(drain_s=2.0)
                log.warning("stopped; counters: %s", pipeline.counters())
            server_thread.stop()
        return 0


def load_models(config: Config) -> Models:
    """ASR, VAD and TTS, loaded once before the daemon says it is ready."""
    from livevoice.asr.vad import SileroVad
    from livevoice.asr.whisper import WhisperRecognizer
    from livevoice.tts.qwen3 import load_from_config

    recognizer = WhisperRecognizer(config.asr)
    vad = SileroVad()
    engine = load_from_config(config.tts)
    return Models(recognizer, vad, engine)


def run_daemon(config: Config, *, config_path: Path | None = None, json_events: bool = False) -> int:
    """``livevoice run``: returns the exit code (LivevoiceError for what the user can fix)."""
    models = load_models(config)
    daemon = Daemon(config, config_path, models, json_events)

    def on_stop(signum: int, frame: FrameType | None) -> None:
        daemon.request_stop()

    def on_hup(signum: int, frame: FrameType | None) -> None:
        daemon.request_reload()

    signal.signal(signal.SIGTERM, on_stop)
    signal.signal(signal.SIGINT, on_stop)
    signal.signal(signal.SIGHUP, on_hup)
    return daemon.run()


__all__ = ["Daemon", "LiveState", "load_models", "run_daemon"]
