"""Every user-caused TTS problem is one clear line and leaves nothing half-done."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from livevoice.errors import ConfigError, LivevoiceError, ModelError
from livevoice.tts.engine import TtsError
from livevoice.tts.qwen3 import Qwen3TtsEngine, load_qwen3_engine


@pytest.fixture(scope="module")
def engine(tiny_qwen_dir: Path) -> Iterator[Qwen3TtsEngine]:
    torch.set_num_threads(1)
    yield load_qwen3_engine(
        str(tiny_qwen_dir), device="cpu", sampling={"do_sample": False, "max_new_tokens": 4}, warmup=False
    )


def one_line(err: pytest.ExceptionInfo[BaseException]) -> str:
    text = str(err.value)
    assert "\n" not in text and text
    assert isinstance(err.value, LivevoiceError)
    return text


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(ModelError) as err:
        load_qwen3_engine(str(tmp_path / "models" / "nope"), device="cpu")
    assert one_line(err) == f"cannot load TTS model '{tmp_path / 'models' / 'nope'}': no such folder"


def test_folder_without_a_model(tmp_path: Path) -> None:
    with pytest.raises(ModelError) as err:
        load_qwen3_engine(str(tmp_path), device="cpu")
    assert one_line(err).endswith("the folder has no config.json")


def variant(tiny_qwen_dir: Path, tmp_path: Path, model_type: str) -> Path:
    folder = tmp_path / model_type
    shutil.copytree(tiny_qwen_dir, folder)
    config = json.loads((folder / "config.json").read_text())
    config["tts_model_type"] = model_type
    (folder / "config.json").write_text(json.dumps(config))
    return folder


@pytest.mark.slow
def test_non_base_variant_is_refused(tiny_qwen_dir: Path, tmp_path: Path) -> None:
    folder = variant(tiny_qwen_dir, tmp_path, "custom_voice")
    with pytest.raises(ModelError) as err:
        load_qwen3_engine(str(folder), device="cpu")
    assert one_line(err) == (
        f"TTS model '{folder}' is a custom_voice model, not a *-Base model; "
        "only Base models take speaker embeddings"
    )


@pytest.mark.slow
def test_bad_options_are_config_errors(tiny_qwen_dir: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_qwen3_engine(str(tiny_qwen_dir), device="cpu", language="klingon", warmup=False)
    assert (
        one_line(err) == "TTS language 'klingon' is not supported; supported: auto, chinese, english, german"
    )
    with pytest.raises(ConfigError, match="unknown sampling option 'topk'"):
        load_qwen3_engine(str(tiny_qwen_dir), device="cpu", sampling={"topk": 3})
    with pytest.raises(ConfigError, match="at least 1"):
        load_qwen3_engine(str(tiny_qwen_dir), device="cpu", first_chunk_frames=0)
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="CUDA is not available"):
            load_qwen3_engine(str(tiny_qwen_dir), device="cuda")


@pytest.mark.slow
@pytest.mark.parametrize("values", [np.zeros(32, np.float32), np.zeros((2, 64), np.float32)])
def test_wrong_embedding_size_names_both_sizes(engine: Qwen3TtsEngine, values: np.ndarray) -> None:
    with pytest.raises(TtsError) as err:
        engine.open(values, "Hello.")
    text = one_line(err)
    assert f"has {values.size} values" in text and "takes 64" in text


@pytest.mark.slow
def test_non_finite_embedding(engine: Qwen3TtsEngine) -> None:
    values = np.zeros(64, np.float32)
    values[3] = np.nan
    with pytest.raises(TtsError, match="NaN"):
        engine.open(values, "Hello.")


@pytest.mark.slow
@pytest.mark.parametrize("text", ["", "   \n"])
def test_empty_text(engine: Qwen3TtsEngine, text: str) -> None:
    with pytest.raises(TtsError) as err:
        engine.open(np.ones(64, np.float32), text)
    assert one_line(err) == "nothing to say: the text is empty"


@pytest.mark.slow
def test_closing_without_text_cancels(engine: Qwen3TtsEngine) -> None:
    stream = engine.open(np.ones(64, np.float32), "", final=False)
    with pytest.raises(TtsError, match="closed without text"):
        stream.close()
    assert stream.cancelled and list(stream) == []
    with pytest.raises(TtsError, match="already closed"):
        stream.append("late")


@pytest.mark.slow
def test_bad_audio_for_an_embedding(engine: Qwen3TtsEngine) -> None:
    with pytest.raises(TtsError, match="too short for a voice"):
        engine.extract_embedding(np.zeros(1000, np.float32), 16000)
    with pytest.raises(TtsError, match="expected"):
        engine.extract_embedding(np.zeros((2, 2, 24000), np.float32), 24000)
    noisy = np.zeros(24000, np.float32)
    noisy[5] = np.inf
    with pytest.raises(TtsError, match="NaN or infinite"):
        engine.extract_embedding(noisy, 24000)


@pytest.mark.slow
def test_engine_still_works_after_errors(engine: Qwen3TtsEngine) -> None:
    for bad in (
        lambda: engine.open(np.zeros(3, np.float32), "x"),
        lambda: engine.open(np.ones(64, np.float32), ""),
    ):
        with pytest.raises(TtsError):
            bad()
    stream = engine.open(np.ones(64, np.float32), "Still here.")
    chunks = list(stream)
    # a whole phrase: at least the frames before the end token may come, all decoded to sound
    assert stream.frames_generated >= 2 and chunks[-1].final
    assert sum(c.frames for c in chunks) == stream.frames_generated
    assert sum(len(c.samples) for c in chunks) == stream.frames_generated * engine.samples_per_frame


@pytest.mark.slow
@pytest.mark.parametrize(
    ("remove", "named"),
    [
        ("talker.code_predictor.model.rotary_emb", "talker.code_predictor.model.rotary_emb.inv_freq"),
        ("talker.model.layers.0.self_attn.q_norm", "talker.model.layers[0].self_attn.q_norm"),
        ("speech_tokenizer.model.decoder.pre_conv", "speech_tokenizer.model.decoder.pre_conv"),
    ],
)
def test_other_qwen_tts_internals_are_named_in_one_line_at_load(
    tiny_qwen_dir: Path, remove: str, named: str
) -> None:
    from qwen_tts import Qwen3TTSModel

    wrapper = Qwen3TTSModel.from_pretrained(str(tiny_qwen_dir))
    parent_path, _, name = remove.rpartition(".")
    parent = wrapper.model
    for part in parent_path.split("."):
        parent = parent[int(part)] if part.isdigit() else getattr(parent, part)
    delattr(parent, name)
    with pytest.raises(ModelError) as err:
        Qwen3TtsEngine(wrapper, model_id="tiny")
    text = one_line(err)
    assert f"this qwen-tts model has no '{named}'" in text
    assert "livevoice needs qwen-tts 0.1.1 with transformers 4.57.x" in text
