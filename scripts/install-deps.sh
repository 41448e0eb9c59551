#!/usr/bin/env bash
# Installs the system packages moocpipe needs on Debian (bookworm): GStreamer 1.22
# with its dev headers and plugins, and the tools used as test oracles and
# benchmark baselines (ffmpeg/ffprobe, mediainfo); cmake, which builds the
# whisper.cpp that captions use; espeak-ng, which speaks the caption tests'
# known text; curl, the plain HTTP client the distributed tests download
# the authors' links with; prometheus for promtool, which checks the deploy/
# alert rules and scrape config; chromium and chromium-driver, the real
# browser the dashboard's tests drive. Idempotent: installs only
# what is missing, and does nothing when everything is there.
set -euo pipefail

PACKAGES=(
  pkg-config
  libgstreamer1.0-dev
  libgstreamer-plugins-base1.0-dev
  gstreamer1.0-tools
  gstreamer1.0-plugins-base
  gstreamer1.0-plugins-good
  gstreamer1.0-plugins-bad
  gstreamer1.0-plugins-ugly
  gstreamer1.0-libav
  gstreamer1.0-plugins-base-apps
  ffmpeg
  mediainfo
  cmake
  espeak-ng
  curl
  prometheus
  chromium
  chromium-driver
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "moocpipe: installing system packages: ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
