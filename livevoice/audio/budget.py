"""Derive every buffer size from one latency budget.

The budget is the target for *output first-packet latency* (DESIGN.md):
``first_sample_out - text_ready``. It is spent on three things:

1. the TTS engine producing its first chunk (on a GPU ~100-250 ms);
2. the output pre-buffer: samples queued before playback of a phrase starts, so that
   later chunks arrive before the device needs them;
3. the device: PortAudio/PipeWire hold about two blocks.

Block size is the largest power of two not longer than 1/32 of the budget (300 ms ->
256 samples at 48 kHz = 5.3 ms; PipeWire's quantum follows the client's block). The
pre-buffer is 1/10 of the budget. What is left is the TTS share, logged so a user can
see what the engine must achieve. Rings are sized in multiples of the budget: they add
no latency (the reader takes everything there is), they only decide how far a worker
may fall behind before samples are dropped (capture) or the producer waits (output).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class BufferPlan:
    """Sizes derived from a latency budget. Sample counts are at ``sample_rate``."""

    sample_rate: int
    """Device sample rate (Hz)."""
    budget_ms: int
    """The output first-packet latency budget (ms)."""
    block_samples: int
    """Device block size (samples per callback)."""
    output_prebuffer_samples: int
    """Samples queued before a phrase starts playing."""
    capture_ring_samples: int
    """Capacity of the capture ring (mic -> VAD worker)."""
    output_ring_samples: int
    """Capacity of the output ring (TTS worker -> device)."""

    @property
    def block_ms(self) -> float:
        return 1000.0 * self.block_samples / self.sample_rate

    @property
    def device_ms(self) -> float:
        """Latency the device adds: about two blocks."""
        return 2 * self.block_ms

    @property
    def prebuffer_ms(self) -> float:
        return 1000.0 * self.output_prebuffer_samples / self.sample_rate

    @property
    def tts_share_ms(self) -> float:
        """What is left of the budget for the TTS first packet."""
        return self.budget_ms - self.prebuffer_ms - self.device_ms

    def describe(self) -> str:
        """One log line with every derived figure."""
        return (
            f"latency budget {self.budget_ms} ms at {self.sample_rate} Hz: "
            f"block {self.block_samples} samples ({self.block_ms:.1f} ms), "
            f"output pre-buffer {self.prebuffer_ms:.0f} ms, device ~{self.device_ms:.1f} ms, "
            f"TTS first packet must come within {self.tts_share_ms:.0f} ms; "
            f"capture ring {self.capture_ring_samples / self.sample_rate:.1f} s, "
            f"output ring {self.output_ring_samples / self.sample_rate:.1f} s"
        )


def plan_buffers(budget_ms: int, sample_rate: int) -> BufferPlan:
    """Derive block size, pre-buffer and ring capacities from the budget."""
    if budget_ms <= 0 or sample_rate <= 0:
        raise ValueError(f"budget_ms and sample_rate must be positive: {budget_ms}, {sample_rate}")
    max_block = sample_rate * budget_ms / 32_000
    block = 64
    while block * 2 <= max_block:
        block *= 2
    budget_samples = sample_rate * budget_ms // 1000
    return BufferPlan(
        sample_rate=sample_rate,
        budget_ms=budget_ms,
        block_samples=block,
        output_prebuffer_samples=budget_samples // 10,
        capture_ring_samples=max(16 * budget_samples, 2 * sample_rate),
        output_ring_samples=max(20 * budget_samples, 4 * sample_rate),
    )
