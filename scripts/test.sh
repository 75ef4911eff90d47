#!/usr/bin/env bash
# The whole test suite: lint, type-check, then pytest against a real PipeWire server
# started here (and stopped on exit, whatever happens). Extra arguments go to pytest: the tests
# run in random order (pytest-randomly; the seed is printed, --randomly-seed=N repeats it);
# -m "not rig" leaves out the tests that need the audio server, -m "not slow" those loading models.
set -euo pipefail
venv=${1:-.venv}
shift || true
cd "$(dirname "$0")/.."
rig=$(mktemp -d "${TMPDIR:-/tmp}/livevoice-rig.XXXXXX")
trap 'scripts/audio-rig.sh stop "$rig"' EXIT
echo "== ruff"
"$venv/bin/ruff" check livevoice tests bench
"$venv/bin/ruff" format --check livevoice tests bench
echo "== mypy"
"$venv/bin/mypy"
echo "== audio server"
scripts/audio-rig.sh start "$rig"
# shellcheck disable=SC1091
. "$rig/env"
echo "== pytest"
"$venv/bin/python" -m pytest -q -ra "$@"
