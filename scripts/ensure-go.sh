#!/usr/bin/env bash
# Prints the path of a Go toolchain at least as new as go.mod asks for. When
# the machine has none (or an older one), it fetches the official toolchain
# from the Go module proxy (golang.org/toolchain) into .data/go.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
want=$(awk '/^go /{print $2; exit}' "$ROOT/go.mod")

newer_or_equal() { # $1 >= $2, versions like 1.26.8
  [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]
}

for go in "$(command -v go 2>/dev/null || true)" /usr/local/go/bin/go "$ROOT/.data/go/bin/go"; do
  [ -x "$go" ] || continue
  have=$("$go" env GOVERSION 2>/dev/null | sed 's/^go//')
  if [ -n "$have" ] && newer_or_equal "$have" "$want"; then echo "$go"; exit 0; fi
done

arch=$(uname -m); case "$arch" in x86_64) arch=amd64 ;; aarch64) arch=arm64 ;; esac
proxy=${GOPROXY:-https://proxy.golang.org}; proxy=${proxy%%,*}
url="$proxy/golang.org/toolchain/@v/v0.0.1-go$want.linux-$arch.zip"
echo "ensure-go: fetching Go $want from $url" >&2
command -v unzip >/dev/null || { apt-get update -qq >&2 && apt-get install -y -qq unzip >&2; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
curl -fsSL -o "$tmp/go.zip" "$url"
(cd "$tmp" && unzip -q go.zip)
rm -rf "$ROOT/.data/go"; mkdir -p "$ROOT/.data"
mv "$tmp/golang.org/toolchain@v0.0.1-go$want.linux-$arch" "$ROOT/.data/go"
chmod +x "$ROOT/.data/go/bin/"* "$ROOT/.data/go/pkg/tool/"*/* 2>/dev/null || true
echo "$ROOT/.data/go/bin/go"
