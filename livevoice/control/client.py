"""A client of the control protocol (asyncio), used by ``livevoice ctl`` and by tests.

::

    async with await ControlClient.connect("ws://127.0.0.1:4460", secret) as client:
        status = await client.request("GetStatus")
        await client.request("SetVoice", {"voice": "alice"})
        async for event in client.events():
            print(event.event_type, event.event_data)

A reader task matches responses to requests by ``requestId`` and queues events, so
requests and events can be used at the same time.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator, Mapping, Sequence
from types import TracebackType
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.typing import Origin

from livevoice.control import auth
from livevoice.control.codes import RPC_VERSION, CloseCode, EventSubscription, status_name, wire_name
from livevoice.control.protocol import (
    SERVER_OPS,
    Event,
    Hello,
    Identified,
    Identify,
    ProtocolError,
    Reidentify,
    Request,
    RequestBatch,
    RequestBatchResponse,
    RequestResponse,
    decode,
    encode,
)
from livevoice.errors import LivevoiceError

_CLIENT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024


class ControlClientError(LivevoiceError):
    """The control connection failed: refused, rejected, closed, or an unexpected message."""


class ConnectionClosedError(ControlClientError):
    """The server closed the session; :attr:`code` and :attr:`reason` say why."""

    def __init__(self, code: int | None, reason: str) -> None:
        name = _close_name(code)
        super().__init__(f"the daemon closed the connection ({name}): {reason or 'no reason given'}")
        self.code = code
        self.reason = reason


class RequestFailedError(ControlClientError):
    """A request answered with a failure status."""

    def __init__(self, response: RequestResponse) -> None:
        status = response.request_status
        what = response.request_type or "request"
        super().__init__(f"{what} failed ({status.code} {status_name(status.code)}): {status.comment}")
        self.response = response
        self.code = status.code
        self.comment = status.comment or ""


def _close_name(code: int | None) -> str:
    if code is None:
        return "no close code"
    try:
        return f"{code} {wire_name(CloseCode(code))}"
    except ValueError:
        return str(code)


class ControlClient:
    """One identified session with the control server."""

    def __init__(self, ws: ClientConnection, hello: Hello) -> None:
        self.ws = ws
        self.hello = hello
        self._ids = itertools.count(1)
        self._waiting: dict[str, asyncio.Future[Any]] = {}
        self._events: asyncio.Queue[Event | None] = asyncio.Queue()
        self._identified: asyncio.Future[Identified] | None = None
        self._closed: ConnectionClosedError | None = None
        self._reader: asyncio.Task[None] | None = None

    @classmethod
    async def connect(
        cls,
        url: str,
        secret: str,
        *,
        event_subscriptions: int = int(EventSubscription.ALL),
        origin: str | None = None,
        open_timeout_s: float = 10.0,
    ) -> ControlClient:
        """Connect, answer the challenge and identify; :class:`ControlClientError` on failure."""
        try:
            ws = await connect(
                url,
                origin=Origin(origin) if origin is not None else None,
                open_timeout=open_timeout_s,
                max_size=_CLIENT_MAX_MESSAGE_BYTES,
                compression=None,
                proxy=None,
            )
        except InvalidStatus as err:
            body = err.response.body.decode("utf-8", "replace").strip() if err.response.body else ""
            raise ControlClientError(
                f"{url} refused the connection (HTTP {err.response.status_code}): {body}"
            ) from None
        except (OSError, TimeoutError, InvalidHandshake) as err:
            detail = getattr(err, "strerror", None) or str(err) or type(err).__name__
            raise ControlClientError(f"cannot connect to {url}: {detail}; is the daemon running?") from None
        try:
            hello = _expect(await _recv(ws, open_timeout_s), Hello)
            answer = auth.auth_response(secret, hello.authentication.salt, hello.authentication.challenge)
            await ws.send(encode(Identify(RPC_VERSION, answer, event_subscriptions)))
            _expect(await _recv(ws, open_timeout_s), Identified)
        except BaseException:
            await ws.close()
            raise
        client = cls(ws, hello)
        client._reader = asyncio.get_running_loop().create_task(client._read())
        return client

    async def __aenter__(self) -> ControlClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """End the session (1000)."""
        await self.ws.close()
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader

    @property
    def close_code(self) -> int | None:
        """The close code once the session ended."""
        return self.ws.close_code

    def _next_id(self) -> str:
        return f"r{next(self._ids)}"

    async def _send_and_wait(self, request_id: str, text: str) -> Any:
        if self._closed is not None:
            raise self._closed
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = future
        try:
            await self.ws.send(text)
        except ConnectionClosed:
            self._waiting.pop(request_id, None)
            raise self._closed_error() from None
        return await future

    async def call(self, request_type: str, data: Mapping[str, Any] | None = None) -> RequestResponse:
        """Send one request and return its response, whatever its status."""
        request_id = self._next_id()
        text = encode(Request(request_id, request_type, dict(data) if data is not None else None))
        response: RequestResponse = await self._send_and_wait(request_id, text)
        return response

    async def request(self, request_type: str, data: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Send one request; its ``responseData``, or :class:`RequestFailedError`."""
        response = await self.call(request_type, data)
        if not response.ok:
            raise RequestFailedError(response)
        return response.response_data or {}

    async def batch(
        self, requests: Sequence[tuple[str, Mapping[str, Any] | None]], *, halt_on_failure: bool = False
    ) -> list[RequestResponse]:
        """Send several requests as one batch (applied in order); their responses."""
        items = []
        for index, (request_type, data) in enumerate(requests):
            item: dict[str, Any] = {"requestType": request_type, "requestId": str(index)}
            if data is not None:
                item["requestData"] = dict(data)
            items.append(item)
        request_id = self._next_id()
        text = encode(RequestBatch(request_id, tuple(items), halt_on_failure))
        response: RequestBatchResponse = await self._send_and_wait(request_id, text)
        return list(response.results)

    async def reidentify(self, event_subscriptions: int) -> None:
        """Change which events this session receives."""
        if self._closed is not None:
            raise self._closed
        future: asyncio.Future[Identified] = asyncio.get_running_loop().create_future()
        self._identified = future
        await self.ws.send(encode(Reidentify(event_subscriptions)))
        await future

    async def next_event(self, timeout_s: float | None = None) -> Event:
        """The next event (TimeoutError after ``timeout_s``); :class:`ConnectionClosedError` once closed."""
        async with asyncio.timeout(timeout_s):
            event = await self._events.get()
        if event is None:
            self._events.put_nowait(None)
            raise self._closed_error()
        return event

    async def wait_for(self, event_type: str, timeout_s: float, **match: Any) -> dict[str, Any]:
        """The data of the next ``event_type`` event whose fields equal ``match`` (camelCase
        names); other events are skipped. TimeoutError after ``timeout_s``."""
        async with asyncio.timeout(timeout_s):
            while True:
                event = await self.next_event()
                data = event.event_data
                if event.event_type == event_type and all(data.get(k) == v for k, v in match.items()):
                    return dict(data)

    async def events(self) -> AsyncIterator[Event]:
        """Events as they come, until the session closes."""
        while True:
            try:
                yield await self.next_event()
            except ConnectionClosedError:
                return

    def _closed_error(self) -> ConnectionClosedError:
        if self._closed is None:
            self._closed = ConnectionClosedError(self.ws.close_code, self.ws.close_reason or "")
        return self._closed

    async def _read(self) -> None:
        try:
            async for text in self.ws:
                message = decode(text, SERVER_OPS)
                if isinstance(message, Event):
                    self._events.put_nowait(message)
                elif isinstance(message, RequestResponse | RequestBatchResponse):
                    future = self._waiting.pop(message.request_id, None)
                    if future is not None and not future.done():
                        future.set_result(message)
                elif (
                    isinstance(message, Identified)
                    and self._identified is not None
                    and not self._identified.done()
                ):
                    self._identified.set_result(message)
        except (ConnectionClosed, ProtocolError):
            pass
        finally:
            error = self._closed_error()
            for future in self._waiting.values():
                if not future.done():
                    future.set_exception(error)
            self._waiting.clear()
            if self._identified is not None and not self._identified.done():
                self._identified.set_exception(error)
            self._events.put_nowait(None)


async def _recv(ws: ClientConnection, timeout_s: float) -> Any:
    try:
        async with asyncio.timeout(timeout_s):
            text = await ws.recv()
    except ConnectionClosed:
        code = ws.close_code
        if code == CloseCode.AUTHENTICATION_FAILED:
            raise ControlClientError(
                "the daemon refused the secret: the secret file does not match the running daemon's"
            ) from None
        raise ConnectionClosedError(code, ws.close_reason or "") from None
    except TimeoutError:
        raise ControlClientError(f"the daemon did not answer within {timeout_s:g} s") from None
    try:
        return decode(text, SERVER_OPS)
    except ProtocolError as err:
        raise ControlClientError(f"unexpected message from the daemon: {err.reason}") from None


def _expect(message: Any, cls: type[Any]) -> Any:
    if not isinstance(message, cls):
        raise ControlClientError(f"expected {cls.__name__} from the daemon, got {type(message).__name__}")
    return message


__all__ = ["ConnectionClosedError", "ControlClient", "ControlClientError", "RequestFailedError"]
