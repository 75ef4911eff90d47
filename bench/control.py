"""Control channel figures: publish() cost, request round trips, event fan-out latency.

Run: ``python bench/control.py [--clients 50]``. A real server runs in its own thread
(as in the daemon) over the control-only state and a temporary voice library; real
websockets clients run on the main thread's loop. Prints one line per figure; nothing
is asserted.

- ``publish()`` cost: what a daemon thread pays per event (encode + enqueue), with the
  fan-out to subscribers happening later on the server loop.
- Request round trip: GetStatus and SetVoice, one client, sequential.
- Concurrent requests: every client sends GetStatus in a loop at the same time.
- Event latency: a thread publishes events carrying their publish time; every
  subscribed client notes when it receives each one.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from livevoice.config import ControlConfig
from livevoice.control.client import ControlClient
from livevoice.control.codes import EventSubscription
from livevoice.control.live import LiveState
from livevoice.control.server import ControlServer, ControlServerThread
from livevoice.controls import LiveControls
from livevoice.voices.embedding import Voice, VoiceMeta
from livevoice.voices.library import VoiceLibrary

SECRET = "bench-secret-0123456789abcdef0123"


def percentiles(values_ms: list[float]) -> str:
    p50, p95, top = np.percentile(values_ms, [50, 95, 100])
    return f"p50 {p50:.2f} ms, p95 {p95:.2f} ms, max {top:.2f} ms (n={len(values_ms)})"


def bench_publish(server: ControlServer, calls: int) -> float:
    """Microseconds per publish() call from a non-loop thread."""
    data = {"inputPeakDbfs": -12.0, "inputRmsDbfs": -24.0, "outputPeakDbfs": -9.5, "outputRmsDbfs": -20.0}
    result: list[float] = []

    def run() -> None:
        start = time.perf_counter()
        for _ in range(calls):
            server.publish("LevelMeters", data)
        result.append((time.perf_counter() - start) / calls * 1e6)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    return result[0]


async def round_trips(url: str, request_type: str, data: dict[str, object] | None, count: int) -> list[float]:
    async with await ControlClient.connect(url, SECRET, event_subscriptions=0) as client:
        times = []
        for _ in range(count):
            t0 = time.perf_counter()
            await client.request(request_type, data)
            times.append((time.perf_counter() - t0) * 1e3)
        return times


async def concurrent(url: str, clients: int, per_client: int) -> tuple[float, list[float]]:
    sessions = await asyncio.gather(
        *(ControlClient.connect(url, SECRET, event_subscriptions=0) for _ in range(clients))
    )
    times: list[float] = []

    async def work(client: ControlClient) -> None:
        for _ in range(per_client):
            t0 = time.perf_counter()
            await client.request("GetStatus")
            times.append((time.perf_counter() - t0) * 1e3)

    start = time.perf_counter()
    await asyncio.gather(*(work(c) for c in sessions))
    elapsed = time.perf_counter() - start
    await asyncio.gather(*(c.close() for c in sessions))
    return clients * per_client / elapsed, times


async def event_latency(
    server: ControlServer, url: str, clients: int, events: int, rate_hz: float
) -> list[float]:
    sessions = await asyncio.gather(
        *(
            ControlClient.connect(url, SECRET, event_subscriptions=EventSubscription.BUFFERS)
            for _ in range(clients)
        )
    )
    latencies: list[float] = []

    async def listen(client: ControlClient) -> None:
        for _ in range(events):
            event = await client.next_event(30)
            latencies.append((time.perf_counter_ns() - event.event_data["count"]) / 1e6)

    def publisher() -> None:
        for _ in range(events):
            server.publish("BufferOverrun", {"buffer": "bench", "count": time.perf_counter_ns()})
            time.sleep(1.0 / rate_hz)

    listeners = [asyncio.create_task(listen(c)) for c in sessions]
    thread = threading.Thread(target=publisher)
    thread.start()
    await asyncio.gather(*listeners)
    thread.join()
    await asyncio.gather(*(c.close() for c in sessions))
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=1000, help="sequential round trips per request type")
    parser.add_argument("--events", type=int, default=200, help="events per client in the latency test")
    parser.add_argument("--rate", type=float, default=100.0, help="events per second in the latency test")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        library = VoiceLibrary(Path(tmp) / "voices")
        rng = np.random.default_rng(0)
        for name in ("alice", "bob"):
            library.add(Voice(rng.standard_normal(1024).astype(np.float32), VoiceMeta(name=name)))
        controls = LiveControls(library, library.get("alice"))
        server = ControlServer(LiveState(controls), ControlConfig(port=0), SECRET)
        controls.listen(server.publish_record)
        thread = ControlServerThread(server)
        url = thread.start()
        print(f"# control benchmark: {platform.machine()}, Python {platform.python_version()}, server thread")
        try:
            per_event_us = bench_publish(server, 20000)
            dropped = server.control_stats().events_dropped
            print(
                f"publish() from a thread, 20000 back to back, no subscriber: {per_event_us:.1f} µs/event "
                f"({dropped} dropped by the bounded backlog)"
            )
            get = asyncio.run(round_trips(url, "GetStatus", None, args.requests))
            print(f"GetStatus round trip, 1 client: {percentiles(get)}")
            voices = ["alice", "bob"] * (args.requests // 2)

            async def set_voices() -> list[float]:
                async with await ControlClient.connect(url, SECRET, event_subscriptions=0) as client:
                    times = []
                    for voice in voices:
                        t0 = time.perf_counter()
                        await client.request("SetVoice", {"voice": voice})
                        times.append((time.perf_counter() - t0) * 1e3)
                    return times

            print(f"SetVoice round trip (reads the file), 1 client: {percentiles(asyncio.run(set_voices()))}")
            rate, times = asyncio.run(concurrent(url, args.clients, 40))
            print(f"GetStatus, {args.clients} clients at once: {rate:.0f} requests/s, {percentiles(times)}")
            latencies = asyncio.run(event_latency(server, url, args.clients, args.events, args.rate))
            print(
                f"event publish -> received, {args.clients} subscribers, {args.rate:g} events/s: "
                f"{percentiles(latencies)}"
            )
            print(
                f"events dropped during the latency test: {server.control_stats().events_dropped - dropped}"
            )
        finally:
            thread.stop()


if __name__ == "__main__":
    main()
