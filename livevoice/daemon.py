"""The daemon process: load the models once, run the loop and the control server, and
survive what a long stream throws at it (device loss, model errors, signals).

Start-up order: config -> devices -> voices -> models (ASR, VAD, TTS with warm-up) ->
control server -> pipeline -> READY (sd_notify and one line on stderr). SIGTERM and
SIGINT drain queued speech briefly and stop cleanly; SIGHUP reloads the config file
(the text-stage settings take effect at once; the others need a restart and say so).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
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
from livevoice.audio.devices import DeviceInfo, list_devices
from livevoice.audio.node_watch import missing_nodes, nodes_to_watch, read_nodes
from livevoice.audio.sink_route import SinkRoute, choose_endpoint
from livevoice.config import Config, load_config, replace
from livevoice.control.events import (
    BufferOverrunEvent,
    BufferUnderrunEvent,
    DeviceLostEvent,
    DeviceRestoredEvent,
    ErrorEvent,
    LevelMetersEvent,
    level_dbfs,
)
from livevoice.control.records import (
    ApplyWhen,
    DaemonStats,
    DaemonStatus,
    DeviceList,
    LatencySummary,
    Mode,
    TextOptions,
)
from livevoice.control.records import DeviceInfo as WireDevice
from livevoice.control.standalone import ControlOnlyState
from livevoice.control.state import IncompatibleResourcesError, ResourceNotFoundError
from livevoice.errors import DeviceError, LivevoiceError
from livevoice.frames import FloatArray
from livevoice.pipeline import Pipeline

log = logging.getLogger(__name__)

ROLES = ("input", "output", "monitor")


@dataclass(frozen=True)
class DeviceChoice:
    """The devices of the loop: PortAudio devices, and routes to server sinks by name."""

    devices: dict[str, DeviceInfo | None]
    """role ("input", "output", "monitor") -> device; None = the default (or no monitor)."""
    routes: dict[str, SinkRoute]
    """role -> route, for outputs named by a PipeWire/PulseAudio sink name."""


def resolve_devices(config: Config, *, refresh: bool = False) -> DeviceChoice:
    """The configured devices; DeviceError (one line) for one that does not exist."""
    devices = list_devices(refresh=refresh)
    audio = config.audio
    chosen: dict[str, DeviceInfo | None] = {"monitor": None}
    routes: dict[str, SinkRoute] = {}
    for role, spec, direction in (
        ("input", audio.input_device, "input"),
        ("output", audio.output_device, "output"),
        ("monitor", audio.monitor_device, "output"),
    ):
        if role == "monitor" and not spec:
            continue
        device, route = choose_endpoint(spec, direction, devices)  # type: ignore[arg-type]
        chosen[role] = device
        if route is not None:
            routes[role] = route
    return DeviceChoice(chosen, routes)


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
    nodes: dict[str, str] = field(default_factory=dict)
    """role -> sound-server node name, for devices configured by a node's name (see node_watch)."""
    nodes_checked_s: float = 0.0
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
            asr_device=getattr(self.daemon.models.recognizer, "device_in_use", ""),
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

    def get_text_options(self) -> TextOptions:
        pipeline = self.daemon.pipeline
        return TextOptions.from_config(pipeline.text.config if pipeline else self.daemon.config.text)

    def set_text_options(self, changes: Mapping[str, Any]) -> TextOptions:
        """Applies to the running pipeline's text stage and to the config a rebuilt pipeline uses."""
        with self.daemon._lock:
            new = replace(self.daemon.config, "text", **changes)
            pipeline = self.daemon.pipeline
            # configure() reads the list file and raises, changing nothing, when it is bad;
            # without a pipeline (devices being reopened) the own stage checks it.
            (pipeline.text if pipeline is not None else self.text).configure(new.text)
            self.daemon.config = new
        return TextOptions.from_config(new.text)

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
        self._reported: dict[str, int] = {}
        self._levels_at = 0.0

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

    def on_stage_failure(self, source: str, message: str) -> None:
        """ASR/TTS failed (already reported): optionally fall back to the user's own voice."""
        state = self.state
        if self.config.daemon.fallback_to_passthrough and state and state.get_status().mode == "convert":
            log.warning("falling back to passthrough after a %s failure", source)
            state.set_mode("passthrough")

    def report(self, now_s: float) -> None:
        """Main loop: buffer events when counters grew; level meters about 20 times a second."""
        pipeline = self.pipeline
        if pipeline is None:
            return
        counters = pipeline.counters()
        for key, buffer, cls in (
            ("outputUnderruns", "output", BufferUnderrunEvent),
            ("captureOverruns", "capture", BufferOverrunEvent),
            ("outputOverrunSamples", "output", BufferOverrunEvent),
            ("phraseDrops", "phrases", BufferOverrunEvent),
            ("vadQueueDrops", "vad", BufferOverrunEvent),
        ):
            value = counters.get(key, 0)
            if value > self._reported.get(key, 0):
                self.publish(cls(buffer, value))
            self._reported[key] = value
        if now_s - self._levels_at >= 0.05:
            self._levels_at = now_s
            in_peak, in_rms = pipeline.input_level
            out_peak, out_rms = pipeline.output.level if pipeline.speaking else (0.0, 0.0)
            self.publish(
                LevelMetersEvent(*(level_dbfs(_db(v)) for v in (in_peak, in_rms, out_peak, out_rms)))
            )

    def voice_for_phrase(self) -> FloatArray | None:
        state = self.state
        return state.current_embedding() if state is not None else None

    # -- pipeline -----------------------------------------------------------------

    def build_pipeline(self, choice: DeviceChoice) -> Pipeline:
        pipeline = Pipeline(
            self.config,
            self.plan,
            choice.devices,
            self.models.recognizer,
            self.models.vad,
            self.models.engine,
            self.voice_for_phrase,
            self.publish,
            on_failure=self.on_stage_failure,
            routes=choice.routes,
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
        """Main loop: notice a stream that died or stalled, or whose server node is gone;
        reopen what was lost once it is back."""
        with self._lock:
            pipeline = self.pipeline
            now = time.monotonic()
            problems: dict[str, str] = {}
            if pipeline is not None:
                streams = {"input": pipeline.front.capture, "output": pipeline.output.stream}
                if pipeline.output.monitor is not None:
                    streams["monitor"] = pipeline.output.monitor
                for role, stream in streams.items():
                    calls = stream.callbacks
                    if calls != self.watch.last_callbacks.get(role):
                        self.watch.last_callbacks[role] = calls
                        self.watch.last_change_s[role] = now
                    if stream.finished:
                        problems[role] = "the stream stopped"
                    elif now - self.watch.last_change_s.get(role, now) > 2.0:
                        problems[role] = "no audio callbacks for 2 s"
            if self.watch.nodes and now - self.watch.nodes_checked_s >= 1.0:
                self.watch.nodes_checked_s = now
                for role, node in missing_nodes(self.watch.nodes, read_nodes()).items():
                    problems.setdefault(role, f"the sound server has no device {node!r} any more")
            for role, reason in problems.items():
                if role not in self.watch.lost:
                    self.watch.lost[role] = reason
                    name = getattr(self.config.audio, f"{role}_device") or "default"
                    log.warning("%s device %r lost: %s", role, name, reason)
                    self.publish(DeviceLostEvent(role, name, reason))  # type: ignore[arg-type]
            if pipeline is not None and self.watch.lost:
                self.pipeline = None
                pipeline.stop()
            if self.pipeline is None and self.watch.lost:
                self._try_reopen()

    def _try_reopen(self) -> None:
        if self.watch.nodes and missing_nodes(self.watch.nodes, read_nodes()):
            return  # not back yet: opening now would land on the default device
        try:
            devices = resolve_devices(self.config, refresh=True)
            self.pipeline = self.build_pipeline(devices)
        except LivevoiceError as err:
            log.info("devices not back yet: %s", err)
            return
        self.watch.last_callbacks.clear()
        self.watch.last_change_s.clear()
        for role in list(self.watch.lost):
            name = getattr(self.config.audio, f"{role}_device") or "default"
            self.publish(DeviceRestoredEvent(role, name))  # type: ignore[arg-type]
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
            try:
                if self.pipeline is not None:
                    self.pipeline.text.configure(new.text)
            except LivevoiceError as err:  # e.g. the word list file is gone: keep the old text settings
                log.error("text settings not reloaded: %s", err)
                self.publish(ErrorEvent("config", f"text settings not reloaded: {err}"))
                new = dataclasses.replace(new, text=self.config.text)
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
        audio = self.config.audio
        specs = {"input": audio.input_device, "output": audio.output_device, "monitor": audio.monitor_device}
        self.watch.nodes = nodes_to_watch(specs, read_nodes())
        if self.watch.nodes:
            log.info("watching sound-server devices %s", self.watch.nodes)
        base = ControlOnlyState.from_config(self.config)
        self.state = LiveState(self, base)
        self.state.set_mode(self.config.daemon.mode)  # type: ignore[arg-type]
        if base._voice is not None:
            self.state._check_dim(base._voice.dim, base._voice.meta.name)
        secret = auth.load_or_create_secret(auth.secret_path(self.config))
        self.server = ControlServer(self.state, self.config.control, secret)
        self.state.bind_events(self.server.publish_event)
        server_thread = ControlServerThread(self.server)
        url = server_thread.start()
        try:
            self.pipeline = self.build_pipeline(devices)
            assert self.pipeline is not None
            ready = (
                f"livevoice: ready; listening on {self.pipeline.front.capture.device_name!r}, "
                f"speaking into {self.pipeline.output.stream.device_name!r}; control {url}"
            )
            print(ready, file=sys.stderr, flush=True)
            service.notify_ready("running")
            watchdog = service.watchdog_interval_s()
            last_watch = 0.0
            while not self._stop.wait(0.05):
                now = time.monotonic()
                self.report(now)
                if now - last_watch < 0.25:
                    continue
                last_watch = now
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
                pipeline.stop(drain_s=self.config.daemon.drain_s)
                log.warning("stopped; counters: %s", pipeline.counters())
            server_thread.stop()
        return 0


def _db(value: float) -> float:
    """Linear full-scale level -> dBFS (-inf for 0; level_dbfs clamps it)."""
    return 20.0 * math.log10(value) if value > 0 else -math.inf


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
    resolve_devices(config)  # a wrong device or voice is reported before minutes of model loading
    ControlOnlyState.from_config(config)
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
