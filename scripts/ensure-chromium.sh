#!/usr/bin/env bash
# Makes sure Debian's Chromium is installed for the dashboard's end-to-end
# tests (playwright-core drives it; no browser is ever downloaded by a test
# tool), and prints its path. Set CHROMIUM to use another build.
set -euo pipefail

LOG_PREFIX=ensure-chromium
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

if [ -n "${CHROMIUM:-}" ]; then
  [ -x "$CHROMIUM" ] || { log "CHROMIUM=$CHROMIUM is not an executable"; exit 1; }
  echo "$CHROMIUM"; exit 0
fi
if [ ! -x /usr/bin/chromium ]; then
  # fonts-liberation: text in screenshots, where the machine has no fonts.
  apt_install chromium fonts-liberation
fi
echo /usr/bin/chromium
