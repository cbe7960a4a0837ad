"""Run real livekit-server deployments on 127.0.0.1 for conformance tests and live replay.

A `LiveKitServer` is one deployment: one livekit-server process in single-node mode (no Redis), with
its own free ports and its own API key/secret. Several can run side by side.

Everything is bound to loopback only:
- the signal/HTTP port through `--bind 127.0.0.1`;
- WebRTC over UDP through a single `udp_port` whose UDP mux listens on each local IP that passes
  `rtc.ips.includes: [127.0.0.1/32]` (loopback is only considered because
  `enable_loopback_candidate: true`), and ICE candidates advertise `--node-ip 127.0.0.1`;
- the ICE/TCP mux is switched off (`tcp_port: 0`), because livekit-server opens it with
  `net.ListenTCP("tcp", {Port: tcp_port})`, that is on every interface, with no bind option;
- TURN and Prometheus stay disabled (their defaults); `use_external_ip: false`, and because a node IP
  is given the server adds no STUN servers.

See docs/livekit-server.md.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO_ROOT / "scripts" / "build-livekit-server.sh"
LOOPBACK = "127.0.0.1"

# Environment variables livekit-server reads as flag defaults; never inherit them from the caller.
_SERVER_ENV_VARS = (
    "LIVEKIT_CONFIG",
    "LIVEKIT_KEYS",
    "LIVEKIT_REGION",
    "NODE_IP",
    "UDP_PORT",
    "REDIS_HOST",
    "REDIS_PASSWORD",
    "LIVEKIT_TURN_CERT",
    "LIVEKIT_TURN_KEY",
)


class ServerBinaryUnavailable(RuntimeError):
    """The livekit-server binary could not be found or built."""


class ServerStartError(RuntimeError):
    """livekit-server did not come up (exited, or its HTTP port never answered)."""


def find_server_binary(*, timeout_s: float = 900.0) -> Path:
    """Path of a livekit-server binary.

    `HANDOVER_LIVEKIT_SERVER` (a path to a binary) wins; otherwise scripts/build-livekit-server.sh is run
    (idempotent: it prints the cached path at once when the binary exists, else builds it with
    `go install`, which takes a few minutes the first time). Raises ServerBinaryUnavailable with the
    script's own explanation when that fails.
    """
    override = os.environ.get("HANDOVER_LIVEKIT_SERVER")
    if override:
        path = Path(override)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise ServerBinaryUnavailable(
                f"HANDOVER_LIVEKIT_SERVER={override!r} is not an executable file"
            )
        return path
    if not BUILD_SCRIPT.exists():
        raise ServerBinaryUnavailable(f"build script missing: {BUILD_SCRIPT}")
    try:
        proc = subprocess.run(
            ["bash", str(BUILD_SCRIPT)],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise ServerBinaryUnavailable(
            f"{BUILD_SCRIPT.name} did not finish within {timeout_s:.0f} s"
        ) from exc
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    if proc.returncode != 0 or not lines:
        raise ServerBinaryUnavailable(build_failure(proc.stderr, proc.returncode))
    path = Path(lines[-1].strip())
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise ServerBinaryUnavailable(f"{BUILD_SCRIPT.name} printed {path}, which is not executable")
    return path


def build_failure(stderr: str, code: int) -> str:
    """One short line from the build script's stderr: the first version that did not build (its
    first real error and the log's path), else the script's last line."""
    prefix = "build-livekit-server.sh: "
    said = [line.removeprefix(prefix) for line in stderr.splitlines() if line.strip()]
    broke = next((line for line in said if " did not build: " in line), None)
    return broke or (said[-1] if said else f"{BUILD_SCRIPT.name} failed (exit {code}) with no output")


def server_version(binary: Path) -> str:
    """`livekit-server --version` -> e.g. '1.13.5'."""
    out = subprocess.run(
        [str(binary), "--version"], capture_output=True, text=True, timeout=10, check=False
    ).stdout.strip()
    return out.rsplit(" ", 1)[-1] if out else "unknown"


def _free_ports(n_tcp: int, n_udp: int) -> tuple[list[int], list[int]]:
    """Distinct free ports on 127.0.0.1 (held open together so they differ from each other)."""
    socks: list[socket.socket] = []
    try:
        tcp, udp = [], []
        for kind, out, n in ((socket.SOCK_STREAM, tcp, n_tcp), (socket.SOCK_DGRAM, udp, n_udp)):
            for _ in range(n):
                s = socket.socket(socket.AF_INET, kind)
                s.bind((LOOPBACK, 0))
                socks.append(s)
                out.append(s.getsockname()[1])
        return tcp, udp
    finally:
        for s in socks:
            s.close()


def _yaml_scalar(value: object) -> str:
    # JSON scalars are valid YAML flow scalars.
    return json.dumps(value)


@dataclass
class LiveKitServer:
    """One livekit-server deployment on 127.0.0.1.

    Use as a context manager, or call start()/stop() explicitly. Ports are chosen when started.
    """

    name: str = "lk"
    key: str | None = None
    secret: str | None = None
    empty_timeout_s: int = 10
    departure_timeout_s: int = 3
    binary: Path | None = None
    start_timeout_s: float = 20.0
    stop_timeout_s: float = 5.0
    log_level: str = "info"
    port: int = 0
    udp_port: int = 0
    _proc: subprocess.Popen | None = field(default=None, init=False, repr=False)
    _log_path: Path | None = field(default=None, init=False, repr=False)
    _log_file: object = field(default=None, init=False, repr=False)
    _tmpdir: str | None = field(default=None, init=False, repr=False)
    _last_exit_code: int | None = field(default=None, init=False, repr=False)
    _version: str | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.key is None:
            self.key = f"API{self.name}{secrets.token_hex(4)}"
        if self.secret is None:
            # livekit-server warns about secrets shorter than 32 characters.
            self.secret = secrets.token_urlsafe(32)

    @property
    def version(self) -> str | None:
        """The binary's version (e.g. '1.9.11'), or None when no binary is set yet."""
        if self.binary is None:
            return None
        if self._version is None:
            self._version = server_version(self.binary)
        return self._version

    # -- addresses -------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"ws://{LOOPBACK}:{self.port}"

    @property
    def http_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def last_exit_code(self) -> int | None:
        """Exit code of the process after stop() (0 after a clean SIGTERM shutdown)."""
        return self._last_exit_code

    @property
    def log_path(self) -> Path | None:
        return self._log_path

    def log_text(self) -> str:
        if self._log_path and self._log_path.exists():
            return self._log_path.read_text(errors="replace")
        return ""

    def config_body(self) -> str:
        """The YAML passed with --config-body."""
        lines = [
            f"port: {self.port}",
            "bind_addresses:",
            f"  - {LOOPBACK}",
            "rtc:",
            "  tcp_port: 0",
            f"  udp_port: {self.udp_port}",
            "  use_external_ip: false",
            "  enable_loopback_candidate: true",
            f"  node_ip: {LOOPBACK}",
            "  ips:",
            "    includes:",
            f"      - {LOOPBACK}/32",
            "keys:",
            f"  {_yaml_scalar(self.key)}: {_yaml_scalar(self.secret)}",
            "room:",
            f"  empty_timeout: {int(self.empty_timeout_s)}",
            f"  departure_timeout: {int(self.departure_timeout_s)}",
            "logging:",
            f"  level: {self.log_level}",
            "  json: false",
        ]
        return "\n".join(lines) + "\n"

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> "LiveKitServer":
        if self.running:
            return self
        if self.binary is None:
            self.binary = find_server_binary()
        if not self.port or not self.udp_port:
            (tcp,), (udp,) = _free_ports(1, 1)
            self.port = self.port or tcp
            self.udp_port = self.udp_port or udp
        env = {k: v for k, v in os.environ.items() if k not in _SERVER_ENV_VARS}
        self._tmpdir = tempfile.mkdtemp(prefix=f"livekit-{self.name}-")
        self._log_path = Path(self._tmpdir) / "server.log"
        self._log_file = open(self._log_path, "wb")
        args = [
            str(self.binary),
            "--bind",
            LOOPBACK,
            "--node-ip",
            LOOPBACK,
            "--config-body",
            self.config_body(),
        ]
        self._proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=self._tmpdir,
            start_new_session=True,  # its own process group: signals from the terminal don't race us
        )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout_s
        last_err: Exception | None = None
        while time.monotonic() < deadline:
            if self._proc is None or self._proc.poll() is not None:
                code = self._proc.returncode if self._proc else None
                raise ServerStartError(
                    f"livekit-server {self.name!r} exited with {code} during start-up; log tail:\n"
                    + "\n".join(self.log_text().splitlines()[-15:])
                )
            answered = False
            try:
                with urllib.request.urlopen(self.http_url + "/", timeout=1.0):
                    answered = True
            except urllib.error.HTTPError as exc:  # any HTTP answer means the port serves
                last_err = exc
                answered = True
            except OSError as exc:
                last_err = exc
            if answered and self._owns_signal_port():
                # livekit-server serves HTTP ~100 ms before it marks itself running; a SIGTERM in
                # that window is ignored (LivekitServer.Stop returns early). Let it pass.
                time.sleep(0.25)
                return
            time.sleep(0.05)
        raise ServerStartError(
            f"livekit-server {self.name!r} did not answer on {self.http_url} within "
            f"{self.start_timeout_s:.0f} s (last error: {last_err}); log tail:\n"
            + "\n".join(self.log_text().splitlines()[-15:])
        )

    def _owns_signal_port(self) -> bool:
        """Whether *our* process listens on the signal port (not some other process that does).

        Checked through /proc where available; elsewhere assumed once the process is alive."""
        if not Path("/proc/net/tcp").exists():
            return self.running
        return ("tcp", LOOPBACK, self.port) in self.listening_sockets()

    def stop(self) -> int | None:
        """Stop the server and wait for it; returns its exit code (0 after a clean shutdown).

        SIGTERM first; livekit-server then waits for connected participants to leave (checking
        every 5 s), so after a short grace a second SIGTERM forces the shutdown, and SIGKILL
        follows if it still runs after stop_timeout_s.
        """
        proc, self._proc = self._proc, None
        code = None
        if proc is not None:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=1.0)
                except subprocess.TimeoutExpired:
                    proc.send_signal(signal.SIGTERM)  # second signal: force
                    try:
                        proc.wait(timeout=self.stop_timeout_s)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                        proc.wait(timeout=self.stop_timeout_s)
            code = proc.returncode
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        self._last_exit_code = code
        return code

    def cleanup(self) -> None:
        """Stop and remove the temporary directory with the log."""
        self.stop()
        if self._tmpdir:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None
            self._log_path = None

    def __enter__(self) -> "LiveKitServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- introspection ---------------------------------------------------------------------------
    def listening_sockets(self) -> list[tuple[str, str, int]]:
        """(proto, local address, port) of every socket the server process listens on / has bound.

        Read from /proc (Linux only): the inodes of the process's socket fds, matched against
        /proc/net/{tcp,tcp6,udp,udp6}. TCP sockets are counted only in LISTEN state.
        """
        if not self.running or self._proc is None:
            return []
        pid = self._proc.pid
        inodes: set[str] = set()
        fd_dir = Path(f"/proc/{pid}/fd")
        for fd in fd_dir.iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[len("socket:[") : -1])
        found: list[tuple[str, str, int]] = []
        for proto in ("tcp", "tcp6", "udp", "udp6"):
            table = Path(f"/proc/net/{proto}")
            if not table.exists():
                continue
            for line in table.read_text().splitlines()[1:]:
                cols = line.split()
                local, state, inode = cols[1], cols[3], cols[9]
                if inode not in inodes:
                    continue
                if proto.startswith("tcp") and state != "0A":  # 0A = LISTEN
                    continue
                addr_hex, port_hex = local.split(":")
                found.append((proto, _decode_addr(addr_hex), int(port_hex, 16)))
        return found


def _decode_addr(addr_hex: str) -> str:
    raw = bytes.fromhex(addr_hex)
    if len(raw) == 4:
        return socket.inet_ntop(socket.AF_INET, raw[::-1])
    # /proc/net/*6: four little-endian 32-bit words
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
    return socket.inet_ntop(socket.AF_INET6, words)
