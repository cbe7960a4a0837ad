"""Reading log files: one JSON object per line, each file one ordered stream.

A line is classified by its source (`statements.SOURCES`) and matched to a statement by its
message. A JSON object from no known source, or whose message no statement has, is *unknown*: it
is counted and skipped. A line that is not a JSON object, a known line without a timestamp or with
an unknown region, and lines of more than one user are bad input (`LogError`, exit 2), named by
file and line number.
"""
from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import attrs

from model.system.config import REGIONS
from model.logs.statements import BY_SOURCE, key_of


class LogError(ValueError):
    """Bad log input (one line, names the file and line)."""


@attrs.frozen
class Line:
    file: str
    lineno: int
    stream: int
    t: int            # milliseconds since the earliest line of the input
    key: tuple        # (party, kind, who): what a model event must agree on
    source: str
    raw: str

    @property
    def where(self) -> str:
        return f"{self.file}:{self.lineno}"

    @property
    def kind(self) -> str:
        return self.key[1]

    @property
    def summary(self) -> str:
        """file:line, time since the first line, party and message."""
        obj = json.loads(self.raw)
        msg = obj.get("message", obj.get("msg", "")) if self.source == "bridge" else obj["msg"]
        return f"{self.where}  t={self.t / 1000:.3f}s  {self.key[0]}: {msg}"


@attrs.frozen
class Observed:
    streams: tuple    # tuple of tuples of Line, one per file, in file order
    sources: frozenset
    unknown: int
    user: str

    @property
    def lines(self) -> list[Line]:
        return sorted((x for s in self.streams for x in s), key=lambda x: (x.t, x.stream, x.lineno))

    def __len__(self) -> int:
        return sum(len(s) for s in self.streams)


def source_of(obj: dict) -> str | None:
    if obj.get("service") == "livekit-bridge":
        return "bridge"
    if obj.get("source") == "mobile":
        return "mobile"
    if obj.get("logger") == "livekit":
        return "livekit"
    if isinstance(obj.get("level"), int) and isinstance(obj.get("msg"), str):
        return "cloud"
    return None


def _time_ms(obj: dict, where: str) -> int:
    for field in ("time", "dt", "ts"):
        if field not in obj:
            continue
        v = obj[field]
        if isinstance(v, bool):
            break
        if isinstance(v, int):
            return v if field == "time" else v * 1000
        if isinstance(v, float):
            return int(round(v * 1000))
        if isinstance(v, str):
            try:
                return int(round(datetime.fromisoformat(v.replace("Z", "+00:00")).timestamp()
                                 * 1000))
            except ValueError:
                raise LogError(f"{where}: {field} {v!r} is not an ISO-8601 time") from None
        break
    raise LogError(f"{where}: no timestamp (a \"time\", \"dt\" or \"ts\" field)")


def _party(obj: dict, source: str, where: str) -> str:
    if source in ("mobile", "livekit"):
        return source
    region = obj.get("region")
    if region not in REGIONS:
        raise LogError(f"{where}: {source} line with region {region!r} "
                       f"(known: {', '.join(REGIONS)})")
    host = str(obj.get("hostname", ""))
    tail = host.rsplit("-", 1)[-1]
    pod = int(tail) if "-cloud-" in host and tail.isdigit() else 0
    return f"{'region' if source == 'cloud' else 'bridge'}:{region}" + (f"#{pod}" if pod else "")


def _user(obj: dict, source: str) -> str:
    if source == "cloud":
        return str(obj.get("userId", ""))
    if source == "bridge":
        return str(obj.get("user_id", ""))
    if source == "livekit":
        p = str(obj.get("participant", obj.get("room", "")))
        return p.removeprefix("cloud-agent:")
    return ""


def classify(obj: dict, where: str) -> tuple[str, str, str, str] | None:
    """(source, party, kind, identity) of a known line; None for an unknown one."""
    source = source_of(obj)
    if source is None:
        return None
    msg = obj.get("message", obj.get("msg")) if source == "bridge" else obj.get("msg")
    if not isinstance(msg, str):
        return None
    st = next((s for s in BY_SOURCE[source] if s.pattern().match(msg)), None)
    if st is None:
        return None
    detail = str(obj.get("participant", "")) if source == "livekit" else ""
    if st.kind == "select_region":
        url = st.pattern().match(msg).group("url")
        detail = next((r for r in sorted(REGIONS, key=len, reverse=True) if r in url), "")
        if not detail:
            raise LogError(f"{where}: the URL {url!r} names no known region "
                           f"(known: {', '.join(REGIONS)})")
    return source, _party(obj, source, where), st.kind, detail


def read(paths: list[str]) -> Observed:
    """Every file is one stream; time 0 is the earliest known line of all of them."""
    raw_streams: list[list[tuple]] = []
    unknown, users = 0, {}
    for si, path in enumerate(paths):
        p = Path(path)
        try:
            text = p.read_text()
        except OSError as e:
            raise LogError(f"cannot read {p}: {e.strerror}") from None
        except UnicodeDecodeError:
            raise LogError(f"{p}: not a text file") from None
        stream = []
        for n, raw in enumerate(text.splitlines(), start=1):
            where = f"{p}:{n}"
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw)
            except json.JSONDecodeError as e:
                raise LogError(f"{where}: not JSON ({e.msg})") from None
            except RecursionError:
                raise LogError(f"{where}: nested too deeply") from None
            if not isinstance(obj, dict):
                raise LogError(f"{where}: a log line is a JSON object")
            c = classify(obj, where)
            if c is None:
                unknown += 1
                continue
            source, party, kind, identity = c
            user = _user(obj, source)
            if user:
                users.setdefault(user, where)
            stream.append((str(p), n, si, _time_ms(obj, where), source, party, kind, identity,
                           raw))
        raw_streams.append(stream)
    if len(users) > 1:
        (u1, w1), (u2, w2) = list(users.items())[:2]
        raise LogError(f"lines of more than one user ({u1} at {w1}, {u2} at {w2}): check one "
                       "user at a time (filter the logs by userId / user_id first)")
    t0 = min((x[3] for s in raw_streams for x in s), default=0)
    streams = tuple(tuple(Line(f, n, si, t - t0, key_of(src, party, kind, ident), src, raw)
                          for f, n, si, t, src, party, kind, ident, raw in s)
                    for s in raw_streams)
    sources = frozenset(x.source for s in streams for x in s)
    return Observed(streams, sources, unknown, next(iter(users), ""))
