#!/usr/bin/env bash
# Install the Debian/Ubuntu packages livevoice needs, if any are missing.
#   system-deps.sh run    what the daemon needs (PortAudio, libsndfile, sox)
#   system-deps.sh test   plus what the tests need (espeak-ng, PipeWire test server)
set -euo pipefail
what=${1:-run}
packages=(libportaudio2 libsndfile1 sox)
if [ "$what" = test ]; then
  packages+=(espeak-ng libsox-fmt-all pipewire pipewire-pulse wireplumber pipewire-alsa pulseaudio-utils dbus systemd chromium chromium-driver)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null; then
  echo "livevoice: please install these packages with your package manager: ${missing[*]}" >&2
  exit 1
fi
sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"
echo "installing system packages: ${missing[*]}"
$sudo apt-get update -q -o DPkg::Lock::Timeout=300 >/dev/null
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends \
  -o DPkg::Lock::Timeout=300 "${missing[@]}" >/dev/null
