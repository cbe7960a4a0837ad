#!/usr/bin/env bash
# Build livekit-server from source through the Go module proxy and print the binary path.
#
#   scripts/build-livekit-server.sh                          # the first supported version that builds
#   LIVEKIT_SERVER_VERSION=v1.13.5 scripts/build-livekit-server.sh   # one supported version only
#
# The supported versions are listed, in the order they are tried, in scripts/livekit-server-versions
# (v1.9.2 first, the bug's era; then v1.9.11; then a verified 1.13.x). For each in turn: a cached
# binary is used at once; otherwise the Go module proxy is asked whether it serves the version, and
# if it does the version is built with `go install`. The first that builds wins. Nothing else is ever
# picked: not the oldest version the proxy lists, not a version outside the list.
#
# Binaries are cached outside git in ${HANDOVER_CACHE:-$HOME/.cache/handover}/livekit-server/<version>/;
# the chosen version is printed on stderr and recorded in <cache>/livekit-server/chosen. A failed
# build leaves its full log in <cache>/livekit-server/<version>/build.log and one short line on
# stderr naming the version and the first real error; the failure is remembered for this Go
# version (<version>.failed) so the next run goes straight to the next version; a newer Go, or
# HANDOVER_LIVEKIT_RETRY=1, tries it again. Nothing is remembered for a version that is merely not
# served, so a version the proxy starts serving is picked up on the next run.
#
# stdout: only the binary path (last line). stderr: progress, one line each.
# Exit status: 0 built or cached; 2 no Go, a bad LIVEKIT_SERVER_VERSION, or no version could be built.
set -uo pipefail

MODULE=github.com/livekit/livekit-server
HERE="${BASH_SOURCE[0]%/*}"
[[ "$HERE" == "${BASH_SOURCE[0]}" ]] && HERE=.
CACHE="${HANDOVER_CACHE:-$HOME/.cache/handover}/livekit-server"

say() { printf 'build-livekit-server.sh: %s\n' "$*" >&2; }

if ! command -v go >/dev/null 2>&1; then
    say "'go' not found on PATH; install Go (>= 1.23) to build livekit-server"
    exit 2
fi

mapfile -t SUPPORTED < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' "$HERE/livekit-server-versions" | grep -v '^$')
if [[ -n "${LIVEKIT_SERVER_VERSION:-}" ]]; then
    wanted="v${LIVEKIT_SERVER_VERSION#v}"
    if [[ " ${SUPPORTED[*]} " != *" $wanted "* ]]; then
        say "LIVEKIT_SERVER_VERSION=$LIVEKIT_SERVER_VERSION is not a supported version (supported: ${SUPPORTED[*]})"
        exit 2
    fi
    CANDIDATES=("$wanted")
else
    CANDIDATES=("${SUPPORTED[@]}")
fi

mkdir -p "$CACHE" || { say "cannot create the cache folder $CACHE"; exit 2; }
if command -v flock >/dev/null 2>&1; then
    exec 9>"$CACHE/.build.lock"   # one build at a time (parallel test workers)
    flock 9
fi
workdir="$(mktemp -d)"            # outside any module: the project's files play no part
trap 'rm -rf "$workdir"' EXIT
GOVERSION="$(go env GOVERSION 2>/dev/null || echo unknown)"

chosen() {  # version binary
    printf '%s\n' "$1" > "$CACHE/chosen"
    say "using livekit-server $1 ($2)"
    printf '%s\n' "$2"
    exit 0
}

first_error() {  # the first line of a go log that says what went wrong, shortened
    grep -v -E '^go: (downloading|finding|extracting) ' "$1" \
        | grep -m1 -i -E 'error|verifying|cannot|not found|undefined|fatal|forbidden|^go: ' \
        | cut -c1-200
}

tried=()
for v in "${CANDIDATES[@]}"; do
    bin="$CACHE/$v/server"
    if [[ -x "$bin" ]]; then
        chosen "$v" "$bin"
    fi
    failed="$CACHE/$v.failed"
    if [[ -f "$failed" && -z "${HANDOVER_LIVEKIT_RETRY:-}" && "$(sed -n 1p "$failed")" == "$GOVERSION" ]]; then
        say "skipping $v: it did not build before with $GOVERSION ($(sed -n 2p "$failed")); HANDOVER_LIVEKIT_RETRY=1 tries again"
        tried+=("$v (did not build before)")
        continue
    fi
    if ! err="$(cd "$workdir" && GO111MODULE=on go list -m "$MODULE@$v" 2>&1 >/dev/null)"; then
        status="$(printf '%s\n' "$err" | grep -m1 -oE '[0-9]{3} [A-Z][A-Za-z ]+$' || true)"
        response="$(printf '%s\n' "$err" | sed -n 's/^[[:space:]]*server response: //p' | head -n1)"
        reason="${status:-$(printf '%s\n' "$err" | head -n1 | cut -c1-160)}${response:+: $response}"
        say "$v is not served by the Go module proxy ($reason); trying the next supported version"
        tried+=("$v (not served)")
        continue
    fi
    mkdir -p "$CACHE/$v"
    log="$CACHE/$v/build.log"
    say "building livekit-server $v into $CACHE/$v (a few minutes the first time; log: $log)"
    rm -rf "$CACHE/$v.partial"
    if (cd "$workdir" && GOBIN="$CACHE/$v.partial" GO111MODULE=on go install "$MODULE/cmd/server@$v") >"$log" 2>&1 \
            && [[ -x "$CACHE/$v.partial/server" ]]; then
        mv "$CACHE/$v.partial/server" "$bin" && rm -rf "$CACHE/$v.partial" "$failed"
        chosen "$v" "$bin"
    fi
    rm -rf "$CACHE/$v.partial"
    first="$(first_error "$log")"
    first="${first:-go install failed with no error line}"
    printf '%s\n%s\n' "$GOVERSION" "$first" > "$failed"
    say "$v did not build: $first (full log: $log)"
    tried+=("$v (did not build)")
done

say "no supported livekit-server version could be built; tried: $(IFS=';'; echo "${tried[*]}" | sed 's/;/; /g')"
exit 2
