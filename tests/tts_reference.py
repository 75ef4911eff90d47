"""What the streaming TTS is checked against: qwen-tts's own ``generate`` for the same
x-vector-only prompt, greedy."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch


def generate_codes(
    engine: Any, embedding: np.ndarray, text: str, frames: int, language: str = "auto"
) -> np.ndarray:
    """The codes ``(frames, 16)`` qwen-tts's ``generate`` chooses greedily for ``text`` in the
    voice ``embedding``, with the engine's loaded model and repetition penalty."""
    from qwen_tts.inference.qwen3_tts_model import VoiceClonePromptItem

    wrapper = engine._wrapper
    vector = torch.from_numpy(embedding).to(engine.device)
    item = VoiceClonePromptItem(
        ref_code=None, ref_spk_embedding=vector, x_vector_only_mode=True, icl_mode=False
    )
    codes, _ = wrapper.model.generate(
        input_ids=wrapper._tokenize_texts([wrapper._build_assistant_text(text)]),
        voice_clone_prompt=wrapper._prompt_items_to_voice_clone_prompt([item]),
        languages=[language],
        non_streaming_mode=False,
        max_new_tokens=frames + 1,  # generate() runs the code predictor for all but its last token
        do_sample=False,
        subtalker_dosample=False,
        repetition_penalty=engine.sampling.repetition_penalty,
    )
    return np.asarray(codes[0].cpu().numpy())
