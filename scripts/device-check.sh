#!/usr/bin/env bash
# GPU checks on a lent machine with an NVIDIA GPU and no network (the device tool).
#
#   scripts/device-check.sh prepare     here, with network: wheels of the working set for the
#                                       device's Python 3.12 into .whl/ (git-ignored, ~20 MB)
#   scripts/device-check.sh tts [SIZES] on the device: the CUDA tests, then bench/tts.py on
#                                       random-weight models of the released sizes
#                                       (default "0.6B 1.7B"); figures into $OUT (or ./device-out)
#   scripts/device-check.sh asr         on the device: the recogniser's CUDA self-check and decode
#                                       timings (bench/asr_gpu_check.py); needs the .gpu/ folder
#                                       made here by scripts/asr-gpu-carry.sh (carry .gpu, ~45 MB:
#                                       with .whl it is over the 64 MiB carry, so a second call)
#
# The device machine brings its own torch/torchaudio (CUDA), numpy, safetensors, onnxruntime and
# einops; the rest travels as wheels: carry .whl with the device call, e.g.
#   run(command="scripts/device-check.sh tts 0.6B", carry=[".whl"], timeout_s=560)
#   run(command="scripts/device-check.sh asr", carry=[".gpu"], timeout_s=240)
# Checked on CPU against a Python environment holding only the device's own packages (torch,
# torchaudio, numpy, safetensors, onnxruntime, einops and what librosa/transformers pull in):
# pytest 9 needs pygments and librosa needs lazy_loader, so both travel.
set -euo pipefail
cd "$(dirname "$0")/.."
cmd=${1:?usage: device-check.sh prepare|tts [SIZES]|asr}
shift || true

if [ "$cmd" = prepare ]; then
  python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 --platform manylinux1_x86_64 --platform any -d .whl \
    qwen-tts==0.1.1 transformers==4.57.3 accelerate==1.12.0 huggingface_hub==0.36.0 tokenizers==0.22.1 \
    librosa==0.11.0 audioread decorator pooch platformdirs soxr soundfile cffi pycparser sox \
    pytest pluggy iniconfig packaging pygments lazy_loader
  du -sh .whl
  exit 0
fi
case "$cmd" in tts | asr) ;; *) echo "usage: device-check.sh prepare|tts [SIZES]|asr" >&2; exit 2 ;; esac
out=${OUT:-device-out}
mkdir -p "$out"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$out/gpu.txt" || true
if [ "$cmd" = asr ]; then
  [ -d .gpu/whl ] || { echo "no .gpu/: run scripts/asr-gpu-carry.sh first and carry .gpu" >&2; exit 2; }
  python3 -m pip install -q --no-index --no-deps --no-compile --target .site-asr .gpu/whl/*.whl
  export PYTHONPATH="$PWD/.site-asr:$PWD" PYTHONUNBUFFERED=1
  timeout 200 python3 bench/asr_gpu_check.py --random-tiny .gpu/tok --audio .gpu/speech5s.npy \
    --max-new-tokens 24 --alias-cublas13 2>&1 | tee "$out/asr-gpu.txt" || true
  exit 0
fi
sizes=${*:-0.6B 1.7B}
python3 -m pip install -q --no-index --no-deps --no-compile --target .site .whl/*.whl
export PYTHONPATH="$PWD/.site:$PWD" PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TRANSFORMERS_VERBOSITY=error
echo "== CUDA tests"
timeout 240 python3 -m pytest -q -p no:cacheprovider tests/test_tts_cuda.py 2>&1 | tee "$out/cuda-tests.txt" || true
for size in $sizes; do
  echo "== bench $size"
  timeout 420 python3 bench/tts.py --real-size "$size" --device cuda --first-chunk-frames 1 --chunk-frames 4 \
    --repeats 3 --upstream-repeats 1 --eager-too --eager-repeats 1 2>&1 | grep -v "pad_token_id" \
    | tee "$out/tts-$size.txt" || true
done
