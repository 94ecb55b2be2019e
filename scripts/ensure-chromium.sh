#!/usr/bin/env bash
# Makes sure Debian's Chromium is installed for the dashboard's end-to-end
# tests (playwright-core drives it; no browser is ever downloaded by a test
# tool), and prints its path. Set CHROMIUM to use another build.
set -euo pipefail

log() { echo "ensure-chromium: $*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    log "need root to run: $*"; return 1; fi
}

apt_install() { # quietly: dpkg's hundred lines only when it fails
  local out; out=$(mktemp)
  log "installing $* from the OS packages"
  if ! { as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"; } >"$out" 2>&1; then
    cat "$out" >&2; rm -f "$out"; return 1
  fi
  rm -f "$out"
}

if [ -n "${CHROMIUM:-}" ]; then
  [ -x "$CHROMIUM" ] || { log "CHROMIUM=$CHROMIUM is not an executable"; exit 1; }
  echo "$CHROMIUM"; exit 0
fi
if [ ! -x /usr/bin/chromium ]; then
  # fonts-liberation: text in screenshots, where the machine has no fonts.
  apt_install chromium fonts-liberation
fi
echo /usr/bin/chromium
