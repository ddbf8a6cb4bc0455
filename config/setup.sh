#!/usr/bin/env bash
# The whole set-up, idempotent and fast when nothing changed:
#   Debian packages -> npm dependencies -> TypeScript build -> oclif manifests.
# Runs on a fresh clone before any `npm install` (`npm run setup`), as root on Debian 12.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
STAMPS=$ROOT/.setup-stamps
mkdir -p "$STAMPS"
log() { printf 'setup: %s\n' "$*" >&2; }

# --- Debian packages ------------------------------------------------------------------------
# Runtime: crun/runc (OCI runtimes for the native stage1), systemd-container (nspawn stage1),
# containernetworking-plugins (CNI), gnupg (keys in tests), util-linux (flock, unshare, nsenter),
# iproute2/iptables (networking), xz-utils/bzip2 (ACI compressions), openssl (test CA).
# Reference tools the tests compare against: appc-spec (actool 0.8.11), golang-go +
# golang-github-appc-spec-dev (to build the ACE validator), busybox-static (demo and test images).
# Benchmark peer: podman (bench/run.bench.mjs). systemd + dbus: the nspawn flavor's machined and
# journald path is tested under systemd booted as PID 1 of a test container (machined needs dbus).
PKGS=(crun runc systemd systemd-container dbus containernetworking-plugins gnupg util-linux iproute2 iptables
      xz-utils bzip2 openssl ca-certificates appc-spec golang-go golang-github-appc-spec-dev
      busybox-static attr time make g++ python3 podman)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then log "missing Debian packages (${missing[*]}): run as root"; exit 1; fi
  log "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- Node ------------------------------------------------------------------------------------
if ! command -v node >/dev/null; then log "node (>= 20) is required"; exit 1; fi
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 20 ]; then log "node >= 20 is required (found $(node --version))"; exit 1; fi

# --- npm dependencies ------------------------------------------------------------------------
want=$( (cat package-lock.json; node --version) | sha256sum | cut -d' ' -f1)
have=$(cat "$STAMPS/npm" 2>/dev/null || true)
if [ "$want" != "$have" ] || [ ! -d node_modules ]; then
  log "installing npm dependencies"
  if [ -d node_modules ]; then npm install --no-audit --no-fund --loglevel=error; else npm ci --no-audit --no-fund --loglevel=error; fi
  echo "$want" > "$STAMPS/npm"
fi

# --- build -----------------------------------------------------------------------------------
log "building (tsc -b)"
npx tsc -b

# oclif manifests for the CLIs and every bundled plugin with commands (lazy command loading).
for pkg in core/cli core/actool; do
  [ -d "$pkg/dist/commands" ] || continue
  newest=$(find "$pkg/dist/commands" "$pkg/package.json" -type f -newer "$pkg/oclif.manifest.json" 2>/dev/null | head -1 || true)
  if [ ! -f "$pkg/oclif.manifest.json" ] || [ -n "$newest" ]; then
    log "oclif manifest for $pkg"
    (cd "$pkg" && OCLIF_DISABLE_UPDATE_NOTIFIER=1 "$ROOT/node_modules/.bin/oclif" manifest >/dev/null 2>&1)
  fi
done

# Stage1 images: each flavor builds its own ACI into the CLI's stage1 images dir, where a checkout
# finds them without installing anything under /usr/lib/rkt (rkt's fallback to its own install dir).
S1DIR=$ROOT/core/cli/stage1-images
mkdir -p "$S1DIR"
for flavor in native fly nspawn; do
  pkg=stage1-flavors/$flavor
  img=$S1DIR/stage1-$flavor.aci
  if [ ! -f "$img" ] || [ -n "$(find "$pkg/dist" "$pkg/supervisor" "$pkg/helper" -type f -newer "$img" 2>/dev/null | head -1)" ]; then
    log "building $img"
    node "$pkg/dist/build-image.js" "$S1DIR" >/dev/null
  fi
done

# Links for the binaries (workspaces link them; make sure after a build too).
for b in rkt actool; do
  [ -e "node_modules/.bin/$b" ] || log "warning: node_modules/.bin/$b missing"
done
log "ready: node_modules/.bin/rkt and node_modules/.bin/actool"
