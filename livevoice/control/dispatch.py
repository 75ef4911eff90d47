"""From a received request to its response: check the data, call the daemon state, map errors.

Synchronous and free of sockets: the server runs :meth:`Dispatcher.handle` and
:meth:`Dispatcher.handle_batch` on its state worker thread, and tests drive it
directly. Every outcome is a :class:`~livevoice.control.protocol.RequestResponse`;
nothing raised by a request escapes (a bug becomes GenericError and is logged).
"""

from __future__ import annotations

import dataclasses
import logging
import sys
from collections.abc import Callable
from typing import Any

from livevoice import __version__
from livevoice.control.codes import RPC_VERSION, RequestStatus
from livevoice.control.events import EVENTS
from livevoice.control.protocol import RequestBatch, RequestBatchResponse, RequestResponse, RequestStatusInfo
from livevoice.control.records import (
    ControlStats,
    Empty,
    MixResult,
    SpeakResult,
    StatsReport,
    TextOptions,
    VersionInfo,
    VoiceList,
)
from livevoice.control.requests import (
    REQUESTS,
    MixVoicesRequest,
    MorphVoiceRequest,
    SetDevicesRequest,
    SetModeRequest,
    SetPushToTalkRequest,
    SetTextOptionsRequest,
    SetVoiceRequest,
    SpeakRequest,
    find_request_type,
)
from livevoice.control.state import ControlRequestError, DaemonState
from livevoice.control.wire import WireError, from_wire, to_wire, wire_fields
from livevoice.errors import ConfigError, LivevoiceError
from livevoice.text.filter import WordFilterError

log = logging.getLogger(__name__)

_MAX_COMMENT_CHARS = 500


def _one_line(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= _MAX_COMMENT_CHARS else line[: _MAX_COMMENT_CHARS - 3] + "..."


def failure(request_type: str, request_id: str, status: RequestStatus, comment: str) -> RequestResponse:
    """A failed response with one-line ``comment``."""
    return RequestResponse(
        request_type, request_id, RequestStatusInfo(False, int(status), _one_line(comment))
    )


class Dispatcher:
    """Runs requests against a :class:`~livevoice.control.state.DaemonState`."""

    def __init__(self, state: DaemonState, control_stats: Callable[[], ControlStats]) -> None:
        self.state = state
        self._control_stats = control_stats
        self._handlers: dict[str, Callable[[Any], Any]] = {
            "GetVersion": lambda _: self.version(),
            "GetStatus": lambda _: state.get_status(),
            "GetStats": lambda _: StatsReport(state.get_stats(), self._control_stats()),
            "ListVoices": lambda _: VoiceList(tuple(state.list_voices()), state.get_status().voice),
            "GetCurrentVoice": lambda _: state.get_current_voice(),
            "SetVoice": self._set_voice,
            "MorphVoice": self._morph_voice,
            "MixVoices": self._mix_voices,
            "SetMode": self._set_mode,
            "SetPushToTalk": self._set_push_to_talk,
            "GetTextOptions": lambda _: state.get_text_options(),
            "SetTextOptions": self._set_text_options,
            "Speak": self._speak,
            "StopSpeaking": self._stop_speaking,
            "ListDevices": lambda _: state.list_devices(),
            "SetDevices": self._set_devices,
        }
        missing = set(REQUESTS) ^ set(self._handlers)
        if missing:
            raise RuntimeError(f"requests without handler or spec: {sorted(missing)}")

    @staticmethod
    def version() -> VersionInfo:
        """What GetVersion answers."""
        return VersionInfo(__version__, RPC_VERSION, tuple(REQUESTS), tuple(EVENTS), sys.platform)

    def handle(self, request_id: str, request_type: Any, request_data: Any) -> RequestResponse:
        """The response to one request (never raises)."""
        type_name = request_type if isinstance(request_type, str) else ""
        try:
            result = self._run(request_type, request_data)
        except WireError as err:
            return failure(type_name, request_id, err.status, err.comment)
        except ControlRequestError as err:
            return failure(type_name, request_id, err.status, str(err))
        except LivevoiceError as err:
            return failure(type_name, request_id, RequestStatus.REQUEST_PROCESSING_FAILED, str(err))
        except Exception as err:
            log.exception("request %s failed", type_name)
            comment = f"internal error in {type_name}: {type(err).__name__}: {err}"
            return failure(type_name, request_id, RequestStatus.GENERIC_ERROR, comment)
        status = RequestStatusInfo(True, int(RequestStatus.SUCCESS))
        return RequestResponse(type_name, request_id, status, to_wire(result))

    def handle_batch(self, batch: RequestBatch) -> RequestBatchResponse:
        """The responses to a batch's requests, applied in order (stopping at a failure if asked)."""
        results: list[RequestResponse] = []
        for index, item in enumerate(batch.requests):
            if isinstance(item, dict):
                item_id = item.get("requestId")
                request_id = item_id if isinstance(item_id, str) else str(index)
                extra = sorted(set(item) - {"requestType", "requestId", "requestData"})
                if extra:
                    response = failure(
                        str(item.get("requestType", "")),
                        request_id,
                        RequestStatus.UNKNOWN_REQUEST_FIELD,
                        f"batch item {index} has unknown field '{extra[0]}'",
                    )
                else:
                    response = self.handle(request_id, item.get("requestType"), item.get("requestData"))
            else:
                response = failure(
                    "",
                    str(index),
                    RequestStatus.INVALID_REQUEST_FIELD_TYPE,
                    f"batch item {index} must be an object",
                )
            results.append(response)
            if batch.halt_on_failure and not response.ok:
                break
        return RequestBatchResponse(batch.request_id, tuple(results))

    def _run(self, request_type: Any, request_data: Any) -> Any:
        if request_type is None or request_type == "":
            raise WireError(RequestStatus.MISSING_REQUEST_TYPE, "requestType is missing")
        if not isinstance(request_type, str):
            raise WireError(RequestStatus.INVALID_REQUEST_FIELD_TYPE, "requestType must be a string")
        spec = REQUESTS.get(request_type)
        if spec is None:
            near = find_request_type(request_type)
            hint = f"; did you mean {near}?" if near else f"; known: {', '.join(REQUESTS)}"
            raise WireError(
                RequestStatus.UNKNOWN_REQUEST_TYPE, f"unknown requestType {request_type[:60]!r}{hint}"
            )
        data = from_wire(spec.data_type, {} if request_data is None else request_data)
        return self._handlers[request_type](data)

    def _set_voice(self, data: SetVoiceRequest) -> Empty:
        self.state.set_voice(data.voice, data.apply)
        return Empty()

    def _morph_voice(self, data: MorphVoiceRequest) -> Empty:
        self.state.morph_voice(data.to, data.duration_ms, data.curve)
        return Empty()

    def _mix_voices(self, data: MixVoicesRequest) -> MixResult:
        for name, weight in data.weights.items():
            if weight < 0:
                raise WireError(
                    RequestStatus.REQUEST_FIELD_OUT_OF_RANGE,
                    f"field 'weights.{name}' = {weight} must be >= 0",
                )
        if not any(weight > 0 for weight in data.weights.values()):
            raise WireError(RequestStatus.INVALID_REQUEST_FIELD, "field 'weights' needs a positive weight")
        return MixResult(self.state.mix_voices(data.weights, data.apply))

    def _set_mode(self, data: SetModeRequest) -> Empty:
        self.state.set_mode(data.mode)
        return Empty()

    def _set_push_to_talk(self, data: SetPushToTalkRequest) -> Empty:
        self.state.set_push_to_talk(data.pressed, data.enabled)
        return Empty()

    def _set_text_options(self, data: SetTextOptionsRequest) -> TextOptions:
        changes = {f.name: getattr(data, f.name) for f in dataclasses.fields(data)}
        changes = {name: value for name, value in changes.items() if value is not None}
        if not changes:
            raise WireError(
                RequestStatus.MISSING_REQUEST_FIELD,
                "give at least one of " + ", ".join(wire_fields(SetTextOptionsRequest)),
            )
        try:
            return self.state.set_text_options(changes)
        except (ConfigError, WordFilterError) as err:
            raise WireError(RequestStatus.INVALID_REQUEST_FIELD, str(err)) from None

    def _speak(self, data: SpeakRequest) -> SpeakResult:
        if not data.text.strip():
            raise WireError(RequestStatus.REQUEST_FIELD_EMPTY, "field 'text' holds only white space")
        return SpeakResult(self.state.speak(data.text))

    def _stop_speaking(self, _: object) -> Empty:
        self.state.stop_speaking()
        return Empty()

    def _set_devices(self, data: SetDevicesRequest) -> Empty:
        if data.input_device is None and data.output_device is None and data.monitor_device is None:
            raise WireError(
                RequestStatus.MISSING_REQUEST_FIELD,
                "give at least one of inputDevice, outputDevice, monitorDevice",
            )
        self.state.set_devices(data.input_device, data.output_device, data.monitor_device)
        return Empty()


__all__ = ["Dispatcher", "failure"]
