"""Live replay: run a trace with the model deciding what the app code does, while real LiveKit
servers do what LiveKit does, and report the first divergence.

How it works. The trace runs in the model exactly as `handover replay` runs it. Every message a
model party sends to a model LiveKit deployment (a join, a leave, a data packet) is mirrored, in
the same order, on the real deployment of the same topology name, by a real participant (the
`livekit` rtc SDK) whose handle is the model's connection id. After each trace step the two sides
are compared:

- room membership per deployment (identities the server lists in each room the model knows);
- kicks: which connections were removed, with which reason (DUPLICATE_IDENTITY, ...);
- token rejections: which joins were refused, and why (invalid API key, expired, ...).

The first disagreement is reported with both sides' values. Membership and kicks propagate
asynchronously on the real server, so a comparison is retried for a bounded time before it counts.

Model time and real time. The model's clock does not wait for real time (an `advance 30 s` takes
no real time). Tokens keep their meaning: a model token is re-minted for the real server, when it
is used, with the claims the model gave it and the lifetime it has left in model time (negative:
already expired), signed with the real key of the deployment that signed it in the model. Server
timers (departure, empty timeout) are not compared. Room names get a per-run prefix, and every room
the replay touched is deleted at the end, also after an error or Ctrl-C.

Known limit: `livekit_outage` cannot be reproduced (the rtc SDK offers no way to cut one
participant's signal without a leave), so traces with it are refused (exit 2), as are model resumes.
"""
from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid

import attrs

from model.system.parties import livekit as LK
from model.properties import properties as P
from model.outputs import render
from model.engines import runner
from model.system import tokens
from model.system import world as W
from model.live.conformance import REFUSAL_OF_MODEL
from model.system.messages import ClientLeave, Join, SendData
from model.engines.trace import Trace, TraceError, step_dict

PROPAGATION_S = 3.0
POLL_S = 0.1
REFUSALS = REFUSAL_OF_MODEL
COMPARED_REASONS = ("DUPLICATE_IDENTITY", "PARTICIPANT_REMOVED", "ROOM_DELETED")


class LiveError(Exception):
    """Bad input or an unreachable server (exit 2)."""


@attrs.frozen
class Op:
    """One LiveKit-bound message of the model, to be mirrored."""
    deployment: str
    conn: str
    msg: object
    now: int


@attrs.define
class Divergence:
    step: int
    what: str
    model: object
    real: object

    def line(self) -> str:
        return (f"step {self.step + 1}: {self.what} differ: model {json.dumps(self.model)}, "
                f"real {json.dumps(self.real)}")


def capture(prev_box: list, ops: list):
    """An observer for the runner's micro steps that records LiveKit-bound messages."""
    def observe(action, world, records):
        prev = prev_box[0]
        if hasattr(action, "conn") and hasattr(action, "to_server") and action.to_server:
            env = next((h for h in prev.net.heads()
                        if (h.conn, h.to_server) == (action.conn, True)), None)
            conn = world.net.conns.get(action.conn)
            if env is not None and conn is not None and conn.server.startswith("livekit:") \
                    and isinstance(env.msg, (Join, ClientLeave, SendData)):
                ops.append(Op(conn.server.split(":", 1)[1], conn.id, env.msg, prev.now))
        prev_box[0] = world
    return observe


class Mirror:
    """The real deployments, addressed by the model's deployment names."""

    def __init__(self, sides: dict, run_id: str):
        self.sides = sides
        self.prefix = f"hv-{run_id}-"
        self.refused: set = set()        # (conn, category) of real refusals
        self.rooms: dict[str, set] = {d: set() for d in sides}

    def real_token(self, token: str, now_ms: int) -> str:
        claims = dict(tokens.claims_of(token))
        owner = next((d for d in self.sides if tokens.deployment_keys(d)[0] == claims.get("iss")),
                     None)
        key, secret = (self.sides[owner].key, self.sides[owner].secret) if owner else \
            (claims.get("iss", "unknown"), "not-a-secret-of-any-deployment-0000")
        wall = int(time.time())
        model_now = tokens.unix_seconds(now_ms)
        claims["iss"] = key
        claims["exp"] = wall + (claims["exp"] - model_now)
        claims["nbf"] = wall + (claims.get("nbf", model_now) - model_now)
        video = dict(claims.get("video", {}))
        video["room"] = self.prefix + video.get("room", "")
        claims["video"] = video
        import jwt
        return jwt.encode(claims, secret, algorithm="HS256")

    async def apply(self, op: Op) -> None:
        side = self.sides[op.deployment]
        if isinstance(op.msg, Join):
            if op.msg.resume:
                raise LiveError("the model resumed a participant; resumes cannot be mirrored")
            claims = tokens.claims_of(op.msg.token)
            room = claims.get("video", {}).get("room", "")
            self.rooms[op.deployment].add(room)
            result = await side.join(op.conn, claims.get("sub", ""), self.prefix + room,
                                     self.real_token(op.msg.token, op.now))
            if not result.ok:
                self.refused.add((op.conn, result.refusal))
        elif isinstance(op.msg, ClientLeave):
            if side.is_connected(op.conn):
                await side.leave(op.conn)
        elif isinstance(op.msg, SendData):
            if side.is_connected(op.conn):
                await side.send_data(op.conn, op.msg.packet.encode())

    async def observed(self) -> dict:
        membership = {}
        for dep, side in self.sides.items():
            for room in sorted(self.rooms[dep]):
                membership[f"{dep}/{room}"] = sorted(await side.list_participants(self.prefix + room))
        kicks = sorted({(h, e["reason"]) for side in self.sides.values()
                        for h in list(side._handles) for e in side.events(h)
                        if e["kind"] == "disconnected" and e["reason"] in COMPARED_REASONS})
        return {"membership": membership, "kicks": [list(k) for k in kicks],
                "token rejections": sorted([list(r) for r in self.refused])}

    async def aclose(self) -> None:
        for side in self.sides.values():
            try:
                await side.aclose()
            except Exception:  # clean-up must go on for the other deployments
                pass


def model_view(w: W.World, rooms: dict, log: list) -> dict:
    """What the model says the real servers must show; `log` is the run's log so far
    (`runner.log_of` of its records: the World keeps no log)."""
    membership = {}
    for dep in rooms:
        lk = w.parties.get(f"livekit:{dep}")
        for room in sorted(rooms[dep]):
            membership[f"{dep}/{room}"] = LK.api_list_participants(lk, room) if lk else []
    kicks = sorted({(e.get("conn"), e.get("reason")) for e in log
                    if e.kind == "participant_left" and e.get("reason") in COMPARED_REASONS})
    refused = sorted({(e.get("conn"), REFUSALS.get(e.get("reason"), "other")) for e in log
                      if e.kind == "token_rejected"})
    return {"membership": membership, "kicks": [list(k) for k in kicks],
            "token rejections": [list(r) for r in refused]}


async def compare(w: W.World, mirror: Mirror, step: int, log: list) -> Divergence | None:
    deadline = time.monotonic() + PROPAGATION_S
    while True:
        model, real = model_view(w, mirror.rooms, log), await mirror.observed()
        diff = next((k for k in model if model[k] != real[k]), None)
        if diff is None:
            return None
        if time.monotonic() > deadline:
            return Divergence(step, diff, model[diff], real[diff])
        await asyncio.sleep(POLL_S)


async def replay(trace: Trace, cfg, sides: dict) -> tuple[runner.Result, Divergence | None, int]:
    if any(dict(s)["step"] == "livekit_outage" for s in trace.steps):
        raise LiveError("livekit_outage cannot be reproduced on a real server (see docs/replay.md)")
    missing = sorted(set(cfg.deployments()) - set(sides))
    if missing:
        raise LiveError(f"no real deployment for {', '.join(missing)} "
                        f"(this topology needs: {', '.join(cfg.deployments())})")
    mirror = Mirror(sides, uuid.uuid4().hex[:8])
    count = 0
    try:
        for side in sides.values():
            try:
                await side.list_rooms()
            except Exception as e:
                raise LiveError(f"deployment {side.name} at {side.url} does not answer with this "
                                f"key: {str(e).splitlines()[0][:120]}") from None
        w = W.initial(cfg)
        violations: dict = {}
        results = []
        log: list = []
        for i, frozen in enumerate(trace.steps):
            step = step_dict(frozen)
            ops: list[Op] = []
            prev = [w]
            seen = capture(prev, ops)
            records: list = []

            def observe(action, world, recs, i=i, records=records):
                seen(action, world, recs)
                records.extend(recs)
                for name, detail in P.check_safety(world, cfg).items():
                    violations.setdefault(name, (i, detail))
            try:
                w = runner.apply_step(w, step, cfg, observe)
            except W.Impossible as e:
                raise TraceError(f"step {i + 1} ({step['step']}): not possible here: {e}") from None
            if step["step"] == "settle":
                for name, detail in P.check_quiescent(w, cfg).items():
                    violations.setdefault(name, (i, detail))
            for op in ops:
                await mirror.apply(op)
                count += 1
            results.append(runner.StepResult(i, step, records, w.now))
            log += runner.log_of(records)
            divergence = await compare(w, mirror, i, log)
            if divergence:
                return runner.Result(trace, cfg, w, results, violations, P.witnesses(w)), \
                    divergence, count
        return runner.Result(trace, cfg, w, results, violations, P.witnesses(w)), None, count
    finally:
        await mirror.aclose()


def parse_targets(items: list[str]) -> dict:
    out = {}
    for item in items:
        name, sep, rest = item.partition("=")
        parts = rest.split(",")
        if not sep or len(parts) != 3 or not all(parts) or not name:
            raise LiveError(f"--livekit takes NAME=URL,KEY,SECRET, not {item!r}")
        if not parts[0].startswith(("ws://", "wss://", "http://", "https://")):
            raise LiveError(f"--livekit {name}: {parts[0]!r} is not a ws:// or http:// URL")
        out[name] = tuple(parts)
    return out


async def _run(trace: Trace, cfg, targets: dict, dev: bool):
    from model.live.real_side import RealLiveKit
    servers = []
    try:
        if dev:
            from model.live.server import LiveKitServer, ServerBinaryUnavailable, ServerStartError
            try:
                for dep in cfg.deployments():
                    servers.append(LiveKitServer(name=dep.replace("-", "")).start())
            except (ServerBinaryUnavailable, ServerStartError) as e:
                raise LiveError(f"cannot start a local LiveKit server: {str(e).splitlines()[0]}") \
                    from None
            sides = {dep: RealLiveKit(s, name=dep) for dep, s in zip(cfg.deployments(), servers)}
        else:
            sides = {name: RealLiveKit(url=u, key=k, secret=s, name=name)
                     for name, (u, k, s) in targets.items()}
        return await replay(trace, cfg, sides)
    finally:
        for s in servers:
            s.stop()


def quiet_sdk() -> None:
    """The rtc SDK logs its own disconnects and PyJWT warns about short user-given secrets: neither
    belongs on the replay's stderr, which carries only the one-line error."""
    import logging
    import warnings
    logging.getLogger("livekit").setLevel(logging.CRITICAL)
    warnings.filterwarnings("ignore", module="jwt")


def main(args, trace: Trace, assume: dict) -> int:
    """`handover replay --livekit-dev | --livekit NAME=URL,KEY,SECRET`: exit 0 agreed and every
    property held, 1 agreed and a property was violated, 3 model and server diverged, 2 bad input
    or an unreachable server."""
    from model.usage import UsageError
    quiet_sdk()
    cfg = runner.config_for(trace, args.fix or None, assume)
    try:
        targets = parse_targets(args.livekit)
        result, divergence, count = asyncio.run(_run(trace, cfg, targets, args.livekit_dev))
    except LiveError as e:
        raise UsageError(str(e)) from None
    live = {"agreed": divergence is None, "operations": count,
            "divergence": divergence.line() if divergence else None}
    if args.format == "json":
        data = result.to_json()
        data["live"] = live
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
    else:
        out = render.markdown if args.format == "markdown" else render.text
        sys.stdout.write(out(result))
        sys.stdout.write(f"live: {'agreed with the real server' if divergence is None else 'DIVERGED at ' + divergence.line()}"
                         f" ({count} LiveKit operations mirrored)\n")
    if divergence:
        return 3
    if args.check:
        return 0 if result.expectation_met() else 1
    return 1 if result.violated else 0
