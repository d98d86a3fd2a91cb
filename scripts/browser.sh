#!/usr/bin/env bash
# What the browser tests (tests/browser) need besides the virtualenv: Debian's Chromium and the
# Noto CJK fonts (the pages are Chinese first). Installs them with apt when missing (as root, or
# through sudo), like scripts/services.sh does for PostgreSQL. Playwright (the Python package, in
# the test extra) drives /usr/bin/chromium; its own browser downloads are never used.
#
# Without a way to install them this fails, so `make test` stops loudly instead of the browser
# tests silently not running. ONEMAP_CHROMIUM may name another Chromium binary.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
VAR="$ROOT/var"
CHROMIUM="${ONEMAP_CHROMIUM:-/usr/bin/chromium}"

log() { echo "[browser] $*" >&2; }
die() { echo "[browser] error: $*" >&2; exit 1; }
is_root() { [ "$(id -u)" -eq 0 ]; }
as_root() { if is_root; then "$@"; else sudo "$@"; fi; }

pkgs=()
[ -x "$CHROMIUM" ] || pkgs+=(chromium)
[ -d /usr/share/fonts/opentype/noto ] && ls /usr/share/fonts/opentype/noto/NotoSansCJK* >/dev/null 2>&1 \
  || pkgs+=(fonts-noto-cjk)
[ ${#pkgs[@]} -gt 0 ] || exit 0

[ -n "${ONEMAP_CHROMIUM:-}" ] && [ ! -x "$CHROMIUM" ] && die "ONEMAP_CHROMIUM=$CHROMIUM is not an executable"
is_root || command -v sudo >/dev/null || die "missing ${pkgs[*]}: run as root, or install sudo"
mkdir -p "$VAR"
log "installing ${pkgs[*]} (apt output in var/apt-browser.log)"
# 'apt-get update' ignores DPkg::Lock::Timeout, so wait for its lock ourselves.
for i in $(seq 100); do
  if as_root apt-get -qq update >"$VAR/apt-browser.log" 2>"$VAR/apt-browser.err"; then break; fi
  grep -q 'Could not get lock' "$VAR/apt-browser.err" && [ "$i" -lt 100 ] \
    || { cat "$VAR/apt-browser.err" >&2; die "apt-get update failed"; }
  [ "$i" -eq 1 ] && log "waiting for another apt/dpkg process to finish"
  sleep 3
done
rm -f "$VAR/apt-browser.err"
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
  -o DPkg::Lock::Timeout=300 "${pkgs[@]}" >>"$VAR/apt-browser.log" \
  || { tail -n 20 "$VAR/apt-browser.log" >&2; die "apt-get install ${pkgs[*]} failed"; }
[ -x "$CHROMIUM" ] || die "chromium installed but $CHROMIUM is missing"
log "ready: $("$CHROMIUM" --version 2>/dev/null || echo chromium)"
