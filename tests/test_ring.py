"""The ring buffer as pure code: wrap-around, counting, and two real threads."""

from __future__ import annotations

import threading

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from livevoice.audio.ring import RingBuffer


def ramp(start: int, n: int) -> np.ndarray:
    return np.arange(start, start + n, dtype=np.float32)


def test_wraps_around_and_keeps_order() -> None:
    ring = RingBuffer(8)
    assert ring.write(ramp(0, 6)) == 6
    out = np.empty(5, np.float32)
    assert ring.read_into(out) == 5
    assert out.tolist() == [0, 1, 2, 3, 4]
    assert ring.write(ramp(6, 7)) == 7  # crosses the end of the storage
    out = np.empty(8, np.float32)
    assert ring.read_into(out) == 8
    assert out.tolist() == list(range(5, 13))
    assert (ring.write_pos, ring.read_pos) == (13, 13)


def test_overrun_keeps_what_fits_and_counts_the_rest() -> None:
    ring = RingBuffer(10)
    ring.write(ramp(0, 7))
    assert ring.write(ramp(7, 5)) == 3
    assert (ring.overrun_samples, ring.overrun_events) == (2, 1)
    assert ring.write(ramp(12, 1)) == 0
    assert (ring.overrun_samples, ring.overrun_events) == (3, 2)
    assert ring.read(100).tolist() == list(range(10))


def test_underrun_pads_with_silence_and_counts_only_when_asked() -> None:
    ring = RingBuffer(10)
    ring.write(ramp(1, 3))
    out = np.full(5, 9.0, np.float32)
    assert ring.read_into(out) == 3
    assert out.tolist() == [1, 2, 3, 0, 0]
    assert (ring.underrun_samples, ring.underrun_events) == (2, 1)
    out[:] = 9.0
    assert ring.read_into(out, count_underrun=False) == 0
    assert out.tolist() == [0] * 5
    assert (ring.underrun_samples, ring.underrun_events) == (2, 1)


def test_a_clear_request_is_carried_out_by_the_reader() -> None:
    ring = RingBuffer(4)
    ring.write(ramp(0, 3))
    assert ring.request_clear() == 3
    ring.write(ramp(3, 1))  # written after the request: kept
    out = np.empty(4, np.float32)
    assert ring.read_into(out, count_underrun=False) == 1
    assert out.tolist() == [3, 0, 0, 0]
    assert ring.available == 0 and ring.free == 4


@settings(max_examples=60, deadline=None)
@given(
    capacity=st.integers(1, 64),
    ops=st.lists(st.tuples(st.booleans(), st.integers(0, 80)), max_size=60),
)
def test_matches_a_simple_model(capacity: int, ops: list[tuple[bool, int]]) -> None:
    """Every sequence of writes and reads behaves like a bounded FIFO that drops the newest."""
    ring = RingBuffer(capacity)
    model: list[float] = []
    counter = 0
    dropped = 0
    for is_write, n in ops:
        if is_write:
            data = ramp(counter, n)
            counter += n
            stored = ring.write(data)
            keep = min(n, capacity - len(model))
            assert stored == keep
            model.extend(data[:keep].tolist())
            dropped += n - keep
        else:
            out = np.empty(n, np.float32)
            got = ring.read_into(out, count_underrun=False)
            expected = model[:n]
            del model[:n]
            assert got == len(expected)
            assert out[:got].tolist() == expected
            assert not out[got:].any()
    assert ring.available == len(model)
    assert ring.overrun_samples == dropped


def test_producer_and_consumer_threads_lose_nothing_when_it_fits() -> None:
    ring = RingBuffer(1000)
    total = 200_000
    received: list[np.ndarray] = []

    def produce() -> None:
        sent = 0
        while sent < total:
            n = min(137, total - sent)
            if ring.free >= n:
                assert ring.write(ramp(sent, n)) == n
                sent += n

    def consume() -> None:
        got = 0
        out = np.empty(211, np.float32)
        while got < total:
            n = ring.read_into(out, count_underrun=False)
            if n:
                received.append(out[:n].copy())
                got += n

    threads = [threading.Thread(target=produce), threading.Thread(target=consume)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    data = np.concatenate(received)
    assert np.array_equal(data, ramp(0, total))
    assert ring.overrun_samples == 0


def test_a_slow_consumer_causes_counted_overruns_never_corruption() -> None:
    ring = RingBuffer(256)
    stop = threading.Event()
    received: list[np.ndarray] = []

    def consume() -> None:
        out = np.empty(64, np.float32)
        while not stop.is_set() or ring.available:
            n = ring.read_into(out, count_underrun=False)
            if n:
                received.append(out[:n].copy())

    consumer = threading.Thread(target=consume)
    consumer.start()
    stored_total = 0
    for k in range(3000):  # a counting sequence, written faster than it is read
        stored_total += ring.write(ramp(100 * k, 100))
    stop.set()
    consumer.join(timeout=60)
    data = np.concatenate(received) if received else np.zeros(0, np.float32)
    assert len(data) == stored_total
    assert ring.overrun_samples == 300_000 - stored_total
    assert np.all(np.diff(data) > 0), "samples out of order"
