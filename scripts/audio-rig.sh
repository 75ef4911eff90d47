#!/usr/bin/env bash
# A real audio server for tests, headless: PipeWire + WirePlumber + pipewire-pulse with
# virtual devices, started without systemd (see docs/testing.md).
#
#   scripts/audio-rig.sh start DIR   start it; write DIR/env (source it to use the server)
#   scripts/audio-rig.sh stop DIR    stop every process it started and remove DIR
#
# Devices it creates (mono, 48 kHz):
#   lvtest_null the default sink (its monitor the default source): silence
#   lvtest_in   null sink: what is played into it comes out of ...
#   lvtest_mic  ... this source: the test microphone livevoice captures from
# and named ALSA PCMs so PortAudio (sounddevice) lists them by name:
#   lvtest_mic  capture from lvtest_mic, playback into lvtest_in
# The virtual mic livevoice plays into (`livevoice virtual-mic create`, made by the tests
# that need it) gets no ALSA name: livevoice reaches it by its sink name, as on a desktop.
set -euo pipefail

cmd=${1:?usage: audio-rig.sh start|stop DIR}
dir=${2:?usage: audio-rig.sh start|stop DIR}

stop_rig() {
  if [ -f "$dir/pids" ]; then
    # reverse order: pipewire-pulse, wireplumber, pipewire, dbus
    for pid in $(tac "$dir/pids"); do kill "$pid" 2>/dev/null || true; done
    for _ in $(seq 50); do
      alive=0
      for pid in $(cat "$dir/pids"); do kill -0 "$pid" 2>/dev/null && alive=1; done
      [ "$alive" = 0 ] && break
      sleep 0.1
    done
    for pid in $(cat "$dir/pids"); do kill -9 "$pid" 2>/dev/null || true; done
  fi
  rm -rf "$dir"
}

if [ "$cmd" = stop ]; then
  stop_rig
  exit 0
fi
[ "$cmd" = start ] || { echo "usage: audio-rig.sh start|stop DIR" >&2; exit 2; }

for tool in pipewire wireplumber pipewire-pulse pactl dbus-daemon; do
  command -v "$tool" >/dev/null || { echo "audio-rig: $tool is not installed" >&2; exit 1; }
done

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
mkdir -p -m 700 "$dir/runtime"
: > "$dir/pids"
export XDG_RUNTIME_DIR="$dir/runtime"

dbus-daemon --session --fork --address="unix:path=$dir/runtime/bus" --print-pid > "$dir/dbus.pid"
cat "$dir/dbus.pid" >> "$dir/pids"
export DBUS_SESSION_BUS_ADDRESS="unix:path=$dir/runtime/bus"

pipewire > "$dir/pipewire.log" 2>&1 &
echo $! >> "$dir/pids"
for _ in $(seq 100); do [ -S "$dir/runtime/pipewire-0" ] && break; sleep 0.05; done
wireplumber > "$dir/wireplumber.log" 2>&1 &
echo $! >> "$dir/pids"
pipewire-pulse > "$dir/pipewire-pulse.log" 2>&1 &
echo $! >> "$dir/pids"

ready=0
for _ in $(seq 200); do
  clients=$(pw-cli ls Client 2>/dev/null || true)
  if pactl info >/dev/null 2>&1 && [[ "${clients,,}" == *wireplumber* ]]; then ready=1; break; fi
  sleep 0.05
done
if [ "$ready" != 1 ]; then
  echo "audio-rig: the audio server did not come up; logs in $dir" >&2
  for log in "$dir"/*.log; do echo "== $log" >&2; tail -n 5 "$log" >&2; done
  stop_rig
  exit 1
fi

# A silent default sink and source, so that a stream whose target is missing (or that the
# session manager links by default) lands on nothing rather than on a test device.
pactl load-module module-null-sink sink_name=lvtest_null channels=1 channel_map=mono rate=48000 \
  sink_properties=device.description=lvtest_null > /dev/null
pactl set-default-sink lvtest_null
pactl set-default-source lvtest_null.monitor
pactl load-module module-null-sink sink_name=lvtest_in channels=1 channel_map=mono rate=48000 \
  sink_properties=device.description=lvtest_in > /dev/null
pactl load-module module-remap-source master=lvtest_in.monitor source_name=lvtest_mic channels=1 \
  channel_map=mono source_properties=device.description=lvtest_mic > /dev/null

cat > "$dir/asoundrc" <<EOF
pcm.lvtest_mic {
  type pipewire
  capture_node "lvtest_mic"
  playback_node "lvtest_in"
  hint { show on description "livevoice test microphone" }
}
EOF

cat > "$dir/env" <<EOF
export XDG_RUNTIME_DIR="$dir/runtime"
export DBUS_SESSION_BUS_ADDRESS="unix:path=$dir/runtime/bus"
export ALSA_CONFIG_PATH="/usr/share/alsa/alsa.conf:$dir/asoundrc"
export LIVEVOICE_TEST_RIG="$dir"
EOF
echo "audio-rig: up in $dir"
