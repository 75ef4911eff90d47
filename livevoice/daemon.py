"""The daemon process: load the models once, wire the loop to the control server, and
survive what a long stream throws at it (device loss, model errors, signals).

Who owns what: :class:`~livevoice.controls.LiveControls` owns what apps change;
:class:`~livevoice.pipeline.Pipeline` (rebuilt when devices change) reads it and reports
typed records; the control server (:class:`~livevoice.control.live.LiveState`) writes it
and turns the records into events. The daemon only wires them, and its main loop polls
device health (:mod:`livevoice.audio.health`) and counters (:mod:`livevoice.reports`).

Start-up (:mod:`livevoice.daemon_cli`): config -> output (unset: the virtual mic on Linux,
:mod:`livevoice.audio.default_output`) -> devices -> voices -> models -> starter voices (an
empty library) -> control server -> pipeline -> READY (sd_notify; a line on stderr: where it
speaks, any echo risk). SIGTERM/SIGINT drain queued speech briefly and stop; SIGHUP reloads
the config (:mod:`livevoice.reload`: text settings at once, the rest, devices too, at a restart).
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from livevoice import service
from livevoice.audio.budget import BufferPlan, plan_buffers
from livevoice.audio.choice import DeviceChoice, configured_devices, resolve_devices
from livevoice.audio.default_output import DefaultOutput, echo_warning, resolve_default_output
from livevoice.audio.devices import DeviceInfo, list_devices
from livevoice.audio.health import DeviceHealth
from livevoice.config import AudioConfig, Config, replace
from livevoice.control.live import LiveState
from livevoice.control.server import ControlServer
from livevoice.controls import LiveControls
from livevoice.errors import LivevoiceError
from livevoice.frames import (
    DeviceLost,
    DeviceRestored,
    LoopRecord,
    LoopStats,
    ModeChanged,
    StageError,
    TranscriptFinal,
    VoiceChanged,
)
from livevoice.models import Models
from livevoice.pipeline import TYPED_UTTERANCE_BASE, Pipeline
from livevoice.reload import reload_config
from livevoice.reports import CounterReports, print_transcript
from livevoice.tts.realtime import RealTimeMonitor

log = logging.getLogger(__name__)

TICK_S = 0.05
"""The main loop's period: counters and levels (s)."""
CHECK_S = 0.25
"""How often the main loop pings the watchdog, reloads if asked and checks the devices (s)."""


class Daemon:
    """Owns the models, the live controls, the pipeline (rebuilt when devices change) and the
    control server; is the :class:`~livevoice.control.state.AudioLoop` the control layer asks."""

    def __init__(self, config: Config, config_path: Path | None, models: Models, json_events: bool) -> None:
        self.config = config
        """The config file's settings, with the devices in use (an unset output resolved, what
        SetDevices chose); what apps change while the daemon runs (mode, voice, text
        settings) is in :attr:`controls` only."""
        self._file_config = config
        """The settings as last read (what a reload compares the file with)."""
        self.config_path = config_path
        self.models = models
        self.json_events = json_events
        self.plan: BufferPlan = plan_buffers(config.audio.latency_budget_ms, config.audio.sample_rate)
        self.controls = LiveControls.from_config(config, model_dim=models.engine.embedding_dim)
        self.controls.listen(self.emit)
        self.state = LiveState(self.controls, self)
        self.health = DeviceHealth()
        self.reports = CounterReports()
        self.pipeline: Pipeline | None = None
        self.server: ControlServer | None = None
        self._typed_ids = itertools.count(TYPED_UTTERANCE_BASE)
        self.realtime = RealTimeMonitor(config.tts.real_time_warning)  # outlives pipelines: warns once
        self._lock = threading.RLock()
        """Held while the pipeline is replaced (device changes from the control thread and the main loop)."""
        self._stop = threading.Event()
        self._reload = threading.Event()

    # -- records out ------------------------------------------------------------

    def emit(self, record: LoopRecord) -> None:
        """Every record of the loop and of the controls (any thread): control changes to the
        pipeline, every record to the control server, final transcripts to stdout."""
        pipeline = self.pipeline
        if pipeline is not None and isinstance(record, ModeChanged | VoiceChanged):
            pipeline.on_control(record)
        if self.server is not None:
            self.server.publish_record(record)
        if isinstance(record, TranscriptFinal):
            print_transcript(record, json_lines=self.json_events)

    def _on_stage_failure(self, source: str, message: str) -> None:
        """ASR/TTS failed (already reported): optionally fall back to the user's own voice."""
        if self.config.daemon.fallback_to_passthrough and self.controls.mode == "convert":
            log.warning("falling back to passthrough after a %s failure", source)
            self.controls.set_mode("passthrough")

    # -- the audio loop, as the control layer asks for it ------------------------

    def activity(self) -> tuple[bool, bool]:
        pipeline = self.pipeline
        return (pipeline.speech_active, pipeline.speaking) if pipeline is not None else (False, False)

    @property
    def asr_device(self) -> str:
        return str(getattr(self.models.recognizer, "device_in_use", ""))

    def stats(self) -> LoopStats:
        pipeline = self.pipeline
        stats = pipeline.stats() if pipeline is not None else LoopStats(0, (), (), (), {})
        devices = {"devicesLostTotal": self.health.lost_total, "devicesMissing": self.health.missing}
        return dataclasses.replace(stats, counters={**stats.counters, **devices})

    def speak(self, text: str) -> int:
        pipeline = self.pipeline
        if pipeline is None:
            raise LivevoiceError("the audio loop is restarting; try again in a moment")
        return pipeline.speak(text)

    def stop_speaking(self) -> None:
        pipeline = self.pipeline
        if pipeline is not None:
            pipeline.stop_speaking()

    def devices(self) -> tuple[Sequence[DeviceInfo], AudioConfig]:
        return list_devices(), self.config.audio

    def set_devices(
        self, input_device: str | None, output_device: str | None, monitor_device: str | None
    ) -> None:
        """Reopen the loop on other devices (None = unchanged; an output of "" = the virtual mic on
        Linux, never the speakers); DeviceError if one does not exist or cannot be made."""
        given = {
            "input_device": input_device,
            "output_device": output_device,
            "monitor_device": monitor_device,
        }
        changes = {key: value for key, value in given.items() if value is not None}
        with self._lock:
            new_config = resolve_default_output(replace(self.config, "audio", **changes)).config
            choice = resolve_devices(new_config.audio)
            self._close_pipeline()
            self.config = new_config
            self.health.watch(configured_devices(new_config.audio))
            self.pipeline = self._open_pipeline(choice)

    # -- the pipeline -----------------------------------------------------------

    def _open_pipeline(self, choice: DeviceChoice) -> Pipeline:
        models = self.models
        pipeline = Pipeline(
            self.config,
            self.plan,
            choice.devices,
            models.recognizer,
            models.vad,
            models.engine,
            self.controls,
            self.emit,
            on_failure=self._on_stage_failure,
            routes=choice.routes,
            typed_ids=self._typed_ids,
            realtime=self.realtime,
        )
        try:
            pipeline.start()
        except BaseException:
            pipeline.stop()
            raise
        return pipeline

    def _close_pipeline(self, drain_s: float = 0.0) -> Pipeline | None:
        with self._lock:
            pipeline, self.pipeline = self.pipeline, None
        if pipeline is not None:
            pipeline.stop(drain_s=drain_s)
        return pipeline

    def open(self) -> tuple[DefaultOutput, str | None]:
        """Open the configured devices (an unset output: the virtual mic, made if missing) and
        start the loop; the output as resolved and the echo warning (None: no risk). DeviceError
        for a device that does not exist or a virtual mic that cannot be made."""
        log.warning("%s", self.plan.describe())
        output = resolve_default_output(self.config)
        self.config = output.config
        choice = resolve_devices(self.config.audio)
        self.health.watch(configured_devices(self.config.audio))
        with self._lock:
            self.pipeline = self._open_pipeline(choice)
        return output, echo_warning(self.config.audio, choice.devices, choice.routes)

    def close(self) -> None:
        """Stop the loop, letting queued speech finish for up to ``daemon.drain_s``."""
        pipeline = self._close_pipeline(drain_s=self.config.daemon.drain_s)
        if pipeline is not None:
            log.warning("stopped; counters: %s", pipeline.counters())

    def check_devices(self) -> None:
        """Main loop: close the loop when a device is lost; reopen it once the device is back."""
        with self._lock:
            pipeline = self.pipeline
            streams = pipeline.streams() if pipeline is not None else {}
            for role, reason in self.health.check(streams, time.monotonic()).items():
                name = self._device_name(role)
                log.warning("%s device %r lost: %s", role, name, reason)
                self.emit(DeviceLost(role, name, reason))  # type: ignore[arg-type]
            if not self.health.lost:
                return
            if pipeline is not None:
                self._close_pipeline()
            if not self.health.may_reopen():
                return  # not back yet: opening now would land on the default device
            try:
                self.pipeline = self._open_pipeline(resolve_devices(self.config.audio, refresh=True))
            except LivevoiceError as err:
                log.info("devices not back yet: %s", err)
                return
            for role in self.health.restored():
                log.warning("%s device restored", role)
                self.emit(DeviceRestored(role, self._device_name(role)))  # type: ignore[arg-type]

    def _device_name(self, role: str) -> str:
        return configured_devices(self.config.audio)[role] or "default"

    # -- signals and the main loop ------------------------------------------------

    def request_stop(self) -> None:
        self._stop.set()

    def request_reload(self) -> None:
        self._reload.set()

    def reload(self) -> None:
        """SIGHUP: re-read the config; apply the text settings, report the rest."""
        service.notify_reloading("reloading the config")
        with self._lock:
            result = reload_config(self.config_path, self._file_config, self.controls)
            self._file_config = result.config
            # the devices in use stay until a restart (or SetDevices): never the speakers meanwhile
            self.config = dataclasses.replace(result.config, audio=self.config.audio)
        for error in result.errors:
            log.error("%s", error)
            self.emit(StageError("config", error))
        if result.loaded:
            log.warning("%s", result.summary())
        service.notify_ready("running" if result.loaded else "running (config reload failed)")

    def run(self) -> int:
        """Main thread: start everything, then watch until asked to stop."""
        from livevoice.control import auth
        from livevoice.control.server import ControlServerThread

        secret = auth.load_or_create_secret(auth.secret_path(self.config))
        self.server = ControlServer(self.state, self.config.control, secret)
        server_thread = ControlServerThread(self.server)
        url = server_thread.start()
        try:
            output, echo = self.open()
            assert self.pipeline is not None
            line = (
                f"livevoice: ready; listening on {self.pipeline.front.capture.device_name!r}, "
                f"speaking {output.speaking(self.pipeline.output.stream.device_name)}; control {url}"
            )
            print(line + (f"; {echo}" if echo else ""), file=sys.stderr, flush=True)
            service.notify_ready("running")
            self._watch()
        finally:
            service.notify_stopping("stopping")
            self.close()
            server_thread.stop()
        return 0

    def _watch(self) -> None:
        watchdog = service.watchdog_interval_s()
        last_check = 0.0
        while not self._stop.wait(TICK_S):
            now = time.monotonic()
            pipeline = self.pipeline
            if pipeline is not None:
                for record in self.reports.poll(pipeline.counters(), pipeline.levels(), now):
                    self.emit(record)
            if now - last_check < CHECK_S:
                continue
            last_check = now
            if watchdog:
                service.notify_watchdog()
            if self._reload.is_set():
                self._reload.clear()
                self.reload()
            self.check_devices()


__all__ = ["Daemon"]
