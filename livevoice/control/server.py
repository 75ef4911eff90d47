"""The websocket control server: sessions, authentication, requests, event fan-out.

One asyncio loop serves every session (``websockets.asyncio.server``). Per session:
Hello -> Identify (challenge answered, within ``control.identify_timeout_s``) ->
Identified, then requests and events. What the server guarantees:

- Nothing blocking runs on the loop: requests go to the daemon state on one worker
  thread (:mod:`.state` explains the contract) and are answered in order per session.
- Each session has a bounded send queue (``control.send_queue_size`` messages) and
  its own writer task. A session that stops reading fills it and is closed with
  SendQueueFull (4014); other sessions and publishers never wait for it.
- :meth:`ControlServer.publish` may be called from any thread; it encodes the event
  once, appends it to a bounded backlog and wakes the loop; it never blocks. A full
  backlog (a stalled loop) drops the event and counts it.
- Browser pages are refused (HTTP 403) unless their ``Origin`` is the daemon's own
  (the panel it serves, :func:`~livevoice.control.web.own_origins`) or is in
  ``control.allowed_origins``; messages over ``control.max_message_bytes`` close the
  session with 1009; envelope errors close it with a 4xxx code and a reason; request
  errors are answered with a status code and a comment. None of it disturbs other
  sessions or the daemon state.
- A plain HTTP request (no websocket upgrade) gets the browser panel's files
  (:mod:`.web`), and nothing else.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, TypeVar

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request as HttpRequest
from websockets.http11 import Response as HttpResponse

from livevoice import __version__
from livevoice.config import ControlConfig
from livevoice.control import auth
from livevoice.control.codes import KNOWN_SUBSCRIPTION_BITS, RPC_VERSION, CloseCode, RequestStatus
from livevoice.control.dispatch import Dispatcher, failure
from livevoice.control.events import EVENT_SUBSCRIPTIONS, event_for_frame
from livevoice.control.protocol import (
    Authentication,
    Hello,
    Identified,
    Identify,
    ProtocolError,
    Reidentify,
    Request,
    RequestBatch,
    RequestBatchResponse,
    close_reason,
    decode,
    encode,
    encode_event,
)
from livevoice.control.records import ControlStats
from livevoice.control.requests import MAX_BATCH_REQUESTS
from livevoice.control.state import DaemonState
from livevoice.control.web import PanelFiles, is_websocket_upgrade, own_origins
from livevoice.control.wire import to_wire
from livevoice.errors import LivevoiceError
from livevoice.frames import LoopRecord

log = logging.getLogger(__name__)

PUBLISH_BACKLOG = 4096
"""Events waiting for the loop before :meth:`ControlServer.publish` drops (and counts) them."""
DELIVERY_CHUNK = 32
"""Events handed to the sessions per loop iteration (the writers run in between)."""
CLOSE_TIMEOUT_S = 2.0
"""How long a closing handshake may take before the TCP connection is cut (s)."""

T = TypeVar("T")


class ControlServerError(LivevoiceError):
    """The control server cannot start (e.g. the port is taken)."""


@dataclass(frozen=True)
class _Close:
    code: int
    reason: str


@dataclass(eq=False)
class _Session:
    ws: ServerConnection
    queue: asyncio.Queue[str | _Close]
    identified: bool = False
    subscriptions: int = 0
    closing: bool = False
    writer: asyncio.Task[None] | None = field(default=None, repr=False)


def ws_url(host: str, port: int) -> str:
    """``ws://host:port`` (IPv6 addresses in brackets)."""
    shown = f"[{host}]" if ":" in host else host
    return f"ws://{shown}:{port}"


class ControlServer:
    """Serves the control protocol over a :class:`~livevoice.control.state.DaemonState`.

    ``host``/``port`` override the config (port 0 = any free port; :attr:`port` tells
    which). Use :meth:`start` and :meth:`close` on a running loop, or
    :class:`ControlServerThread` to run it beside the daemon's threads.
    """

    def __init__(
        self,
        state: DaemonState,
        config: ControlConfig,
        secret: str,
        *,
        host: str | None = None,
        port: int | None = None,
    ) -> None:
        self.config = config
        self.host = config.host if host is None else host
        self.port = config.port if port is None else port
        self._allowed_origins = frozenset(config.allowed_origins)
        self._panel = PanelFiles.shipped()
        self._salt = auth.new_salt()
        self._auth_secret = auth.auth_secret(secret, self._salt)
        self._dispatcher = Dispatcher(state, self.control_stats)
        self._sessions: set[_Session] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: Server | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._pending: collections.deque[tuple[int, str]] = collections.deque()
        self._pending_lock = threading.Lock()
        self._wakeup_scheduled = False
        self._events_published = 0
        self._events_dropped = 0
        self._slow_disconnects = 0

    # -- lifecycle ------------------------------------------------------------

    @property
    def url(self) -> str:
        """``ws://host:port`` the server listens on (the real port once started)."""
        return ws_url(self.host, self.port)

    async def start(self) -> str:
        """Bind and start accepting sessions; returns :attr:`url`."""
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="livevoice-control")
        try:
            self._server = await serve(
                self._handle,
                self.host,
                self.port,
                process_request=self._process_request,
                max_size=self.config.max_message_bytes,
                compression=None,
                close_timeout=CLOSE_TIMEOUT_S,
            )
        except OSError as err:
            self._executor.shutdown(wait=False)
            raise ControlServerError(
                f"cannot listen on {self.host}:{self.port}: {err.strerror or err}; "
                "choose another port with --port or control.port"
            ) from None
        self.port = int(self._server.sockets[0].getsockname()[1])
        with self._pending_lock:
            self._loop = asyncio.get_running_loop()
        log.info("control server listening on %s", self.url)
        return self.url

    async def close(self) -> None:
        """Close every session (1001 going away) and stop listening."""
        with self._pending_lock:
            self._loop = None
            self._pending.clear()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)

    def control_stats(self) -> ControlStats:
        """The server's own counters (part of GetStats)."""
        return ControlStats(
            clients=len(self._sessions),
            events_published=self._events_published,
            events_dropped=self._events_dropped,
            slow_clients_disconnected=self._slow_disconnects,
        )

    # -- events ---------------------------------------------------------------

    def publish(self, event_type: str, data: Mapping[str, Any]) -> bool:
        """Send an event to the sessions subscribed to it; callable from any thread, never blocks.

        ``data`` is the ``eventData`` object (camelCase keys, JSON values). Returns
        False when the event was dropped (server not running, or its backlog of
        :data:`PUBLISH_BACKLOG` events full). An unknown ``event_type`` or data that
        is not JSON raises ValueError/TypeError in the caller: a bug, not a runtime
        condition.
        """
        bit = EVENT_SUBSCRIPTIONS.get(event_type)
        if bit is None:
            raise ValueError(f"unknown event type {event_type!r}")
        data_json = json.dumps(data, separators=(",", ":"), allow_nan=False, ensure_ascii=False)
        text = encode_event(event_type, int(bit), data_json)
        with self._pending_lock:
            self._events_published += 1
            loop = self._loop
            if loop is None or len(self._pending) >= PUBLISH_BACKLOG:
                self._events_dropped += 1
                return False
            self._pending.append((int(bit), text))
            wake = not self._wakeup_scheduled
            self._wakeup_scheduled = True
        if wake:
            try:
                loop.call_soon_threadsafe(self._deliver_pending)
            except RuntimeError:  # the loop closed meanwhile
                return False
        return True

    def publish_event(self, event: Any) -> bool:
        """:meth:`publish` for an event record of :mod:`livevoice.control.events`."""
        return self.publish(event.event_type, to_wire(event))

    def publish_record(self, record: LoopRecord) -> bool:
        """:meth:`publish` for a record the loop reports (see :func:`~.events.event_for_frame`)."""
        return self.publish_event(event_for_frame(record))

    def _deliver_pending(self) -> None:
        """Hand waiting events to the sessions, :data:`DELIVERY_CHUNK` at a time.

        Between chunks the loop runs the writers, so a burst of events never fills the
        queue of a client that reads; only a client that stops reading fills it.
        """
        with self._pending_lock:
            count = min(len(self._pending), DELIVERY_CHUNK)
            items = [self._pending.popleft() for _ in range(count)]
            more = bool(self._pending) and self._loop is not None
            self._wakeup_scheduled = more
        if more:
            asyncio.get_running_loop().call_soon(self._deliver_pending)
        for bit, text in items:
            for session in list(self._sessions):
                if session.identified and session.subscriptions & bit:
                    self._enqueue(session, text)

    # -- sessions -------------------------------------------------------------

    def _process_request(self, connection: ServerConnection, request: HttpRequest) -> HttpResponse | None:
        headers: Headers = request.headers
        if not is_websocket_upgrade(headers.get_all("Upgrade")):
            answer = self._panel.respond(request.method, request.path, headers.get("If-None-Match"))
            response_headers = Headers([("Connection", "close"), *answer.headers])
            return HttpResponse(answer.status.value, answer.status.phrase, response_headers, answer.body)
        origins = headers.get_all("Origin")
        allowed = self._allowed_origins | own_origins(self.host, self.port)
        if not origins or (len(origins) == 1 and origins[0] in allowed):
            return None
        log.warning("refused a connection from Origin %r (not in control.allowed_origins)", origins[0])
        return connection.respond(
            HTTPStatus.FORBIDDEN,
            f"Origin {origins[0]!r} is not allowed to drive livevoice; add it to control.allowed_origins\n",
        )

    def _enqueue(self, session: _Session, item: str | _Close) -> None:
        if session.closing:
            return
        if isinstance(item, _Close):
            session.closing = True
        try:
            session.queue.put_nowait(item)
        except asyncio.QueueFull:
            session.closing = True
            self._slow_disconnects += 1
            log.warning(
                "closing a control session that does not read (%d messages waiting)", session.queue.qsize()
            )
            self._spawn(self._abort_slow(session))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _abort_slow(self, session: _Session) -> None:
        if session.writer is not None:
            session.writer.cancel()
        await self._close_ws(
            session.ws, CloseCode.SEND_QUEUE_FULL, "send queue full: the client does not read"
        )

    @staticmethod
    async def _close_ws(ws: ServerConnection, code: int, reason: str) -> None:
        try:
            async with asyncio.timeout(CLOSE_TIMEOUT_S):
                await ws.close(code, close_reason(reason))
        except TimeoutError:
            ws.transport.abort()

    async def _write_loop(self, session: _Session) -> None:
        try:
            while True:
                item = await session.queue.get()
                if isinstance(item, _Close):
                    await self._close_ws(session.ws, item.code, item.reason)
                    return
                await session.ws.send(item)
        except ConnectionClosed:
            pass
        finally:
            session.closing = True  # nothing is sent any more: stop queueing

    async def _handle(self, ws: ServerConnection) -> None:
        session = _Session(ws, asyncio.Queue(self.config.send_queue_size))
        session.writer = asyncio.get_running_loop().create_task(self._write_loop(session))
        self._sessions.add(session)
        try:
            await self._converse(session)
        except ConnectionClosed:
            pass
        except ProtocolError as err:
            log.info("closing a control session: %s (%d)", err.reason, int(err.code))
            self._enqueue(session, _Close(int(err.code), err.reason))
        except Exception:
            log.exception("control session failed")
            self._enqueue(session, _Close(int(CloseCode.UNKNOWN_REASON), "internal server error"))
        finally:
            self._sessions.discard(session)
            await self._finish(session)

    async def _finish(self, session: _Session) -> None:
        writer = session.writer
        if writer is None:
            return
        if not session.closing:
            writer.cancel()
        try:
            async with asyncio.timeout(CLOSE_TIMEOUT_S * 2):
                await asyncio.gather(writer, return_exceptions=True)
        except TimeoutError:
            writer.cancel()
            session.ws.transport.abort()

    async def _converse(self, session: _Session) -> None:
        ws = session.ws
        challenge = auth.new_challenge()
        self._enqueue(session, encode(Hello(__version__, RPC_VERSION, Authentication(challenge, self._salt))))
        timeout_s = self.config.identify_timeout_s
        try:
            async with asyncio.timeout(timeout_s):
                first = await ws.recv()
        except TimeoutError:
            raise ProtocolError(CloseCode.IDENTIFY_TIMEOUT, f"no Identify within {timeout_s:g} s") from None
        message = decode(first)
        if not isinstance(message, Identify):
            raise ProtocolError(CloseCode.NOT_IDENTIFIED, "the first message must be Identify (op 1)")
        self._identify(session, message, challenge)
        while True:
            message = decode(await ws.recv())
            if isinstance(message, Request):
                text = await self._in_worker(self._respond, message)
                self._enqueue(session, text)
            elif isinstance(message, RequestBatch):
                if len(message.requests) > MAX_BATCH_REQUESTS:
                    raise ProtocolError(
                        CloseCode.INVALID_DATA_FIELD_VALUE,
                        f"a batch holds at most {MAX_BATCH_REQUESTS} requests, not {len(message.requests)}",
                    )
                text = await self._in_worker(self._respond_batch, message)
                self._enqueue(session, text)
            elif isinstance(message, Reidentify):
                session.subscriptions = self._check_subscriptions(message.event_subscriptions)
                self._enqueue(session, encode(Identified(RPC_VERSION)))
            elif isinstance(message, Identify):
                raise ProtocolError(CloseCode.ALREADY_IDENTIFIED, "already identified; use Reidentify (op 3)")

    def _identify(self, session: _Session, message: Identify, challenge: str) -> None:
        if message.rpc_version != RPC_VERSION:
            raise ProtocolError(
                CloseCode.UNSUPPORTED_RPC_VERSION,
                f"rpcVersion {message.rpc_version} is not supported; this server speaks {RPC_VERSION}",
            )
        if not auth.check_auth(self._auth_secret, challenge, message.authentication):
            log.warning("a control client failed to authenticate")
            raise ProtocolError(
                CloseCode.AUTHENTICATION_FAILED, "authentication failed: wrong answer to the challenge"
            )
        session.subscriptions = self._check_subscriptions(message.event_subscriptions)
        session.identified = True
        self._enqueue(session, encode(Identified(RPC_VERSION)))

    @staticmethod
    def _check_subscriptions(mask: int) -> int:
        unknown = mask & ~KNOWN_SUBSCRIPTION_BITS
        if unknown:
            raise ProtocolError(
                CloseCode.INVALID_DATA_FIELD_VALUE, f"eventSubscriptions has unknown bits {unknown:#x}"
            )
        return mask

    async def _in_worker(self, fn: Callable[..., T], *args: Any) -> T:
        if self._executor is None:
            raise RuntimeError("the control server is not started")
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    def _respond(self, request: Request) -> str:
        response = self._dispatcher.handle(request.request_id, request.request_type, request.request_data)
        try:
            return encode(response)
        except (TypeError, ValueError) as err:
            log.exception("response to %s is not JSON", response.request_type)
            comment = f"internal error: the response is not JSON ({err})"
            return encode(
                failure(response.request_type, request.request_id, RequestStatus.GENERIC_ERROR, comment)
            )

    def _respond_batch(self, batch: RequestBatch) -> str:
        response = self._dispatcher.handle_batch(batch)
        try:
            return encode(response)
        except (TypeError, ValueError) as err:
            log.exception("response to a batch is not JSON")
            comment = f"internal error: the response is not JSON ({err})"
            results = tuple(
                failure(r.request_type, r.request_id, RequestStatus.GENERIC_ERROR, comment)
                for r in response.results
            )
            return encode(RequestBatchResponse(batch.request_id, results))


class ControlServerThread:
    """Runs a :class:`ControlServer` on its own asyncio loop in a background thread."""

    def __init__(self, server: ControlServer) -> None:
        self.server = server
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    def start(self, timeout_s: float = 10.0) -> str:
        """Start the thread and wait until the server listens; returns its URL."""
        self._thread = threading.Thread(target=self._run, name="livevoice-control-loop", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout_s):
            raise ControlServerError(f"the control server did not start within {timeout_s:g} s")
        if self._error is not None:
            raise self._error
        return self.server.url

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        try:
            await self.server.start()
        except BaseException as err:
            self._error = err
            self._ready.set()
            return
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await self.server.close()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Close every session, stop the loop and join the thread."""
        if self._loop is not None and self._stop is not None:
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout_s)


__all__ = [
    "CLOSE_TIMEOUT_S",
    "PUBLISH_BACKLOG",
    "ControlServer",
    "ControlServerError",
    "ControlServerThread",
    "ws_url",
]
