"""Buffer sizes come from one latency budget."""

from __future__ import annotations

import pytest

from livevoice.audio.budget import plan_buffers


def test_default_budget_at_48k() -> None:
    plan = plan_buffers(300, 48000)
    assert plan.block_samples == 256  # 5.3 ms: the largest power of two <= 300/32 ms
    assert plan.output_prebuffer_samples == 1440  # 30 ms
    assert plan.capture_ring_samples == 16 * 14400
    assert plan.output_ring_samples == 20 * 14400
    assert plan.tts_share_ms == pytest.approx(300 - 30 - 2 * 256 / 48)
    line = plan.describe()
    assert "block 256 samples (5.3 ms)" in line and "TTS first packet must come within 259 ms" in line


@pytest.mark.parametrize("budget", [60, 100, 300, 1000, 5000])
@pytest.mark.parametrize("rate", [16000, 24000, 44100, 48000])
def test_every_size_follows_the_budget(budget: int, rate: int) -> None:
    plan = plan_buffers(budget, rate)
    block_ms = 1000 * plan.block_samples / rate
    assert plan.block_samples & (plan.block_samples - 1) == 0
    assert block_ms <= max(budget / 32, 1000 * 64 / rate)
    assert plan.tts_share_ms > 0
    assert plan.capture_ring_samples >= 2 * rate and plan.output_ring_samples >= 4 * rate
    bigger = plan_buffers(budget * 2, rate)
    assert bigger.block_samples >= plan.block_samples
    assert bigger.output_prebuffer_samples > plan.output_prebuffer_samples
