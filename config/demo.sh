#!/usr/bin/env bash
# The main job on the built-in default: build the demo image, validate it with our actool and the
# reference actool 0.8.11, sign it with a demo key, trust that key, fetch the signed image into a
# data dir kept under build/demo, list it, run it as a pod on the native stage1, and gc.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DEMO=$ROOT/build/demo
RKT=$ROOT/node_modules/.bin/rkt
mkdir -p "$DEMO"
say() { printf '\n\033[1m$ %s\033[0m\n' "$*" >&2; }

ACI=$(node config/demo-image.mjs "$DEMO")

if [ -x node_modules/.bin/actool ]; then
  say actool validate "$ACI"; node_modules/.bin/actool validate "$ACI"
fi
say /usr/bin/actool validate "$ACI  (reference 0.8.11)"; /usr/bin/actool validate "$ACI"

# A demo signing key, made once, and the image's detached signature.
export GNUPGHOME=$DEMO/gnupg
if [ ! -d "$GNUPGHOME" ]; then
  mkdir -m 700 -p "$GNUPGHOME"
  gpg --batch --quiet --pinentry-mode loopback --passphrase '' --quick-gen-key 'rkt-ts demo <demo@rkt-ts.invalid>' ed25519 sign never
fi
gpg --batch --quiet --yes --armor --export demo@rkt-ts.invalid > "$DEMO/demo-key.asc"
gpg --batch --quiet --yes --armor --detach-sign --output "$ACI.asc" "$ACI"
gpgconf --kill gpg-agent 2>/dev/null || true

FLAGS=(--dir="$DEMO/data" --local-config="$DEMO/etc" --system-config="$DEMO/usr-lib-rkt")
say rkt trust --prefix example.com/rkt-ts-demo --skip-fingerprint-review demo-key.asc
"$RKT" "${FLAGS[@]}" trust --prefix example.com/rkt-ts-demo --skip-fingerprint-review "$DEMO/demo-key.asc"
say rkt fetch "$ACI"
"$RKT" "${FLAGS[@]}" fetch "$ACI"
say rkt image list
"$RKT" "${FLAGS[@]}" image list
say rkt image cat-manifest example.com/rkt-ts-demo:1.0.0
"$RKT" "${FLAGS[@]}" image cat-manifest example.com/rkt-ts-demo:1.0.0
say rkt run --net=none example.com/rkt-ts-demo:1.0.0   "(native stage1: runc, namespaces, cgroups)"
"$RKT" "${FLAGS[@]}" run --net=none --uuid-file-save="$DEMO/last-pod" example.com/rkt-ts-demo:1.0.0
say rkt list
"$RKT" "${FLAGS[@]}" list
say rkt status "$(cat "$DEMO/last-pod")"
"$RKT" "${FLAGS[@]}" status "$(cat "$DEMO/last-pod")"
say rkt gc --grace-period=0s
"$RKT" "${FLAGS[@]}" gc --grace-period=0s
