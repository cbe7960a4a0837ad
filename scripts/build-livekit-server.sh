#!/usr/bin/env bash
# Build livekit-server from source through the Go module proxy and print the binary path.
#
#   scripts/build-livekit-server.sh            # prints .../livekit-server/<version>/server
#
# Target version: v1.9.2 (the bug's era), overridable with LIVEKIT_SERVER_VERSION.
# If the Go module proxy refuses the target version (it answers 403 "This module version is not
# available" for every livekit-server version below v1.13.5 on this machine), the script says so on
# stderr and builds the oldest version the proxy lists instead.
#
# The binary is cached outside git in ${HANDOVER_CACHE:-$HOME/.cache/handover}/livekit-server/<version>/.
# Idempotent: an existing binary is reported at once. Only the Go module proxy is used; no prebuilt
# binaries are ever downloaded. The last line on stdout is the binary path; progress goes to stderr.
set -euo pipefail

MODULE=github.com/livekit/livekit-server
TARGET="${LIVEKIT_SERVER_VERSION:-v1.9.2}"
CACHE="${HANDOVER_CACHE:-$HOME/.cache/handover}/livekit-server"

if ! command -v go >/dev/null 2>&1; then
    echo "build-livekit-server.sh: 'go' not found on PATH; install Go (>= 1.23) to build livekit-server" >&2
    exit 2
fi

bin_for() { echo "$CACHE/$1/server"; }

build() {
    local version="$1" dir
    dir="$CACHE/$version"
    mkdir -p "$dir"
    echo "build-livekit-server.sh: building $MODULE/cmd/server@$version into $dir (takes a few minutes)" >&2
    (cd "$workdir" && GOBIN="$dir" GO111MODULE=on go install "$MODULE/cmd/server@$version") >&2
    [[ -x "$dir/server" ]] || { echo "build-livekit-server.sh: go install succeeded but $dir/server is missing" >&2; exit 1; }
}

# Fast path: the target (or a previously recorded fallback for it) is already built.
if [[ -x "$(bin_for "$TARGET")" ]]; then
    bin_for "$TARGET"
    exit 0
fi
if [[ -f "$CACHE/$TARGET.fallback" ]]; then
    fb="$(cat "$CACHE/$TARGET.fallback")"
    if [[ -x "$(bin_for "$fb")" ]]; then
        echo "build-livekit-server.sh: using $fb (the Go module proxy refused $TARGET earlier)" >&2
        bin_for "$fb"
        exit 0
    fi
fi

# Ask the Go module proxy (through go itself, so GOPROXY etc. are honoured) whether it serves the
# target version; run outside any module so the project's go.mod, if any, plays no part.
workdir="$(mktemp -d)"
trap 'rm -rf "$workdir"' EXIT
VERSION="$TARGET"
if ! err="$(cd "$workdir" && GO111MODULE=on go list -m -f '{{.Version}}' "$MODULE@$TARGET" 2>&1 >/dev/null)"; then
    # e.g. "403 Forbidden: This module version is not available."
    status="$(printf '%s\n' "$err" | grep -m1 -oE '[0-9]{3} [A-Z][A-Za-z ]+$' || true)"
    response="$(printf '%s\n' "$err" | sed -n 's/^[[:space:]]*server response: //p' | head -n1)"
    reason="${status:-$(printf '%s\n' "$err" | head -n1)}${response:+: $response}"
    oldest="$(cd "$workdir" && GO111MODULE=on go list -m -versions "$MODULE" 2>/dev/null | tr ' ' '\n' | grep -E '^v[0-9]+\.[0-9]+\.[0-9]+$' | sort -V | head -n1 || true)"
    if [[ -z "$oldest" ]]; then
        echo "build-livekit-server.sh: the Go module proxy refused $MODULE@$TARGET ($reason) and lists no version to fall back to" >&2
        exit 1
    fi
    echo "build-livekit-server.sh: the Go module proxy refused $MODULE@$TARGET ($reason); falling back to $oldest, the oldest version it lists" >&2
    VERSION="$oldest"
    mkdir -p "$CACHE"
    echo "$VERSION" > "$CACHE/$TARGET.fallback"
fi

mkdir -p "$CACHE"
if command -v flock >/dev/null 2>&1; then
    exec 9>"$CACHE/.build.lock"   # one build at a time (parallel test workers)
    flock 9
fi
if [[ ! -x "$(bin_for "$VERSION")" ]]; then
    build "$VERSION"
fi
bin_for "$VERSION"
