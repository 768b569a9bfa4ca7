#!/usr/bin/env bash
# Install everything the test suite needs, then run it: python packages, and Debian's chromium
# for the browser test (the playwright package drives /usr/bin/chromium; it never downloads one).
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m pip install --quiet -r requirements-dev.txt

if [ ! -x /usr/bin/chromium ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
# a Chinese font, so the screenshots of the Chinese page show characters, not empty boxes
if command -v fc-list >/dev/null && [ -z "$(fc-list :lang=zh)" ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq fonts-wqy-zenhei >/dev/null
fi

exec python3 -m pytest "$@"
