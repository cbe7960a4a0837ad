"""scripts/build-livekit-server.sh against a fake `go`: the supported versions are tried in order,
nothing outside the list is ever picked, a failure is one short line with the log's path, and a
version that failed is never recorded as the choice. (The real build runs in tests/live.)"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from model.live.server import BUILD_SCRIPT, build_failure

SUPPORTED = [line.split("#")[0].strip() for line in
             (BUILD_SCRIPT.parent / "livekit-server-versions").read_text().splitlines()]
SUPPORTED = [v for v in SUPPORTED if v]

FAKE_GO = r"""#!/usr/bin/env bash
echo "$*" >> "$FAKE_CALLS"
case "$1 $2" in
  "env GOVERSION") echo "${FAKE_GOVERSION:-go1.99}"; exit 0 ;;
  "list -m")
    v="${3##*@}"
    if [[ " $FAKE_SERVED " == *" $v "* ]]; then echo "$v"; exit 0; fi
    echo "go: github.com/livekit/livekit-server@$v: reading https://proxy.example/@v/$v.info: 403 Forbidden" >&2
    echo "	server response: This module version is not available." >&2
    exit 1 ;;
  install*)
    v="${2##*@}"
    echo "go: downloading github.com/livekit/protocol v1.2.3" >&2
    if [[ " $FAKE_BUILDS " == *" $v "* ]]; then
      mkdir -p "$GOBIN"; printf '#!/bin/sh\necho "livekit-server version %s"\n' "${v#v}" > "$GOBIN/server"
      chmod +x "$GOBIN/server"; exit 0
    fi
    echo "go: downloading golang.org/x/net v0.1.0" >&2
    echo "verifying github.com/livekit/protocol@v0.0.0-20240101000000-abcdef: checksum database lookup: 404 Not Found" >&2
    exit 1 ;;
esac
echo "fake go: unexpected $*" >&2; exit 3
"""


@pytest.fixture
def fake(tmp_path):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    go = bindir / "go"
    go.write_text(FAKE_GO)
    go.chmod(0o755)
    cache = tmp_path / "cache"

    def run(served: str, builds: str, **env: str) -> subprocess.CompletedProcess:
        full = {"PATH": f"{bindir}:/usr/bin:/bin", "HOME": str(tmp_path),
                "HANDOVER_CACHE": str(cache), "FAKE_CALLS": str(tmp_path / "calls"),
                "FAKE_SERVED": served, "FAKE_BUILDS": builds, **env}
        return subprocess.run(["bash", str(BUILD_SCRIPT)], capture_output=True, text=True,
                              env=full, timeout=60)

    run.cache = cache / "livekit-server"
    run.calls = lambda: (tmp_path / "calls").read_text().splitlines()
    return run


def installs(calls: list[str]) -> list[str]:
    return [c.rsplit("@", 1)[1] for c in calls if c.startswith("install")]


def test_the_list_starts_with_the_bugs_version_then_the_19_line():
    assert SUPPORTED[:2] == ["v1.9.2", "v1.9.11"]
    assert any(v.startswith("v1.13.") for v in SUPPORTED[2:])


def test_an_unserved_version_is_passed_over_for_the_next_in_the_list(fake):
    proc = fake("v1.9.11 v1.13.5 v1.5.3", "v1.9.11 v1.13.5 v1.5.3")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [str(fake.cache / "v1.9.11" / "server")]
    assert installs(fake.calls()) == ["v1.9.11"]
    assert (fake.cache / "chosen").read_text().strip() == "v1.9.11"
    assert "v1.9.2 is not served" in proc.stderr and "using livekit-server v1.9.11" in proc.stderr


def test_a_version_that_does_not_build_is_one_short_line_with_the_log_and_never_chosen(fake):
    proc = fake("v1.9.11 v1.13.5", "v1.13.5")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [str(fake.cache / "v1.13.5" / "server")]
    (line,) = [x for x in proc.stderr.splitlines() if "did not build" in x]
    log = fake.cache / "v1.9.11" / "build.log"
    assert "v1.9.11 did not build: verifying github.com/livekit/protocol" in line
    assert f"(full log: {log})" in line and len(line) < 400 and log.exists()
    assert "checksum database lookup: 404" in log.read_text()
    assert (fake.cache / "chosen").read_text().strip() == "v1.13.5"


def test_a_failed_version_is_skipped_next_time_and_retried_with_a_new_go(fake):
    fake("v1.9.11 v1.13.5", "v1.13.5")
    again = fake("v1.9.11 v1.13.5", "v1.9.11 v1.13.5")
    assert again.stdout.splitlines() == [str(fake.cache / "v1.13.5" / "server")]
    assert "skipping v1.9.11" in again.stderr
    newer = fake("v1.9.11 v1.13.5", "v1.9.11 v1.13.5", FAKE_GOVERSION="go2.0")
    assert newer.stdout.splitlines() == [str(fake.cache / "v1.9.11" / "server")]
    assert (fake.cache / "chosen").read_text().strip() == "v1.9.11"


def test_an_earlier_version_that_becomes_served_is_preferred_to_a_cached_later_one(fake):
    fake("v1.9.11", "v1.9.2 v1.9.11")
    later = fake("v1.9.2 v1.9.11", "v1.9.2 v1.9.11")
    assert later.stdout.splitlines() == [str(fake.cache / "v1.9.2" / "server")]


def test_nothing_builds_exit_2_and_one_line_names_a_version_and_its_error(fake):
    proc = fake("v1.9.11 v1.13.5", "")
    assert proc.returncode == 2 and proc.stdout == ""
    assert not (fake.cache / "chosen").exists()
    message = build_failure(proc.stderr, proc.returncode)
    assert message.startswith("v1.9.11 did not build: verifying ") and "\n" not in message
    assert "full log: " in message


def test_the_version_variable_selects_one_supported_version(fake):
    proc = fake("v1.9.11 v1.13.5", "v1.9.11 v1.13.5", LIVEKIT_SERVER_VERSION="1.13.5")
    assert proc.stdout.splitlines() == [str(fake.cache / "v1.13.5" / "server")]
    assert installs(fake.calls()) == ["v1.13.5"]
    bad = fake("v1.5.3", "v1.5.3", LIVEKIT_SERVER_VERSION="v1.5.3")
    assert bad.returncode == 2 and bad.stdout == ""
    assert len(bad.stderr.splitlines()) == 1 and "not a supported version" in bad.stderr


def test_without_go_exit_2_with_one_line(tmp_path):
    env = {"PATH": "/nonexistent", "HOME": str(tmp_path), "HANDOVER_CACHE": str(tmp_path / "c")}
    proc = subprocess.run(["/bin/bash", str(BUILD_SCRIPT)], capture_output=True, text=True,
                          env=env, timeout=30)
    assert proc.returncode == 2 and proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "'go' not found" in lines[0]


def test_the_real_script_has_no_other_source_of_versions():
    text = Path(BUILD_SCRIPT).read_text()
    assert "go list -m -versions" not in text and "oldest" not in text.lower().replace(
        "not the oldest version", "")
    assert os.access(BUILD_SCRIPT, os.R_OK)


def test_live_replay_says_in_one_short_line_why_there_is_no_server(fake, tmp_path):
    """`handover replay --livekit-dev` on a machine where no supported version builds."""
    import sys
    trace = Path(__file__).resolve().parents[1] / "model" / "corpus" / "report-repro-shared.json"
    env = {"PATH": f"{tmp_path / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path),
           "HANDOVER_CACHE": str(tmp_path / "cache"), "FAKE_CALLS": str(tmp_path / "calls"),
           "FAKE_SERVED": "v1.9.11", "FAKE_BUILDS": ""}
    proc = subprocess.run([sys.executable, "-m", "model.cli", "replay", str(trace), "--livekit-dev"],
                          capture_output=True, text=True, env=env, timeout=120,
                          cwd=Path(__file__).resolve().parents[1])
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and len(lines[0]) < 400, lines
    assert "v1.9.11 did not build: verifying" in lines[0] and "full log: " in lines[0]
    assert "Traceback" not in proc.stderr
