# Shared by the scripts that install what a fresh Debian machine lacks.
# Source it after setting LOG_PREFIX.

log() { echo "${LOG_PREFIX:-nexmdm}: $*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    log "need root to run: $*"; return 1; fi
}

# apt_install PKG...: quietly; apt's and dpkg's output only when it fails.
apt_install() {
  local out; out=$(mktemp)
  log "installing $* from the OS packages"
  if ! { as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"; } >"$out" 2>&1; then
    cat "$out" >&2; rm -f "$out"; return 1
  fi
  rm -f "$out"
}
