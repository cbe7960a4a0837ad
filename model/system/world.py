"""The transition system: `initial(cfg)`, `enabled(world, cfg)`, `step(world, action, cfg)`.

A `World` is an immutable value holding every party's state, the network, the clock and the
monitors (`model.system.monitors`: the small history properties read, updated from what the parties log). `step` is pure and deterministic: no I/O, no wall
clock, no randomness; every choice is in the action. Each party is a sans-IO module with
`handle(state, conn, msg, ctx) -> (state, effects)`; this module is the only place where effects
are carried out (messages queued, connections opened and closed, timers set, crashes).
"""
from __future__ import annotations

from typing import Any

import attrs

from model.system.parties import bridge, livekit, mobile, region
from model.system.actions import (ClockAdvances, ClockFiresTimer, GlassesSocketDrops, GrpcStreamErrors,
                           LiveKitSignalLost, MobileSpeaks, NetworkDelivers, UserSelectsRegion,
                           UserSetsMic)
from model.system.clock import Clock
from model.system.config import Config, USER
from model.system.effects import Await, CancelTimer, Close, Crash, Log, Open, Send, SetTimer
from model.system.fmap import FMap
from model.system.messages import Resumed, TimerFired, name_of
from model.system.monitors import LogEntry, Monitors, update as monitor
from model.system.network import Network
from model.system.parties.party import Ctx, bridge_party, conn_owner, livekit_party, region_party, split
from model.system.frozen import evolve

MODULES = {"mobile": mobile, "region": region, "bridge": bridge, "livekit": livekit}

SHORT_TIMERS = frozenset({"ws_reconnect", "lk_retry", "grpc_retry", "sdk_retry", "resume_wait",
                          "departure", "restart", "apps_started", "dispose_io", "mic_debounce"})
"""Timers that finish an activity in progress (a retry, a reconnect, a resume window, a room
closing, a pod restart). `settle` runs until none is pending. The others, `grace` and `refresh`,
are periods the user moves through with `advance`."""

OUTAGE_SECONDS = (10, 90, 700)
"""Signal outages the engines choose from: inside the server's ~20 s resume window, past the SDK's
~85 s retry schedule, past the 10 min refresh-token lifetime."""

ADVANCE_MS = (1_000, 2_500, 19_000, 21_000, 59_000, 61_000, 301_000, 601_000)
"""Clock advances the engines choose from: they straddle the 2 s gRPC retry, the 20 s departure and
resume windows, the 60 s grace period and leeway, the 5 min refresh and the 10 min token life."""


class Impossible(ValueError):
    """The action is not enabled in this world (bad trace step)."""


@attrs.frozen
class World:
    clock: Clock
    net: Network
    parties: FMap                 # party id -> state
    monitors: Monitors = Monitors()   # the history properties need (the log itself is in Records)
    routes: int = 0               # region connections routed so far (canonical round robin)
    unreachable: FMap = FMap()    # party -> until (ms): cannot reach LiveKit

    @property
    def now(self) -> int:
        return self.clock.now

    def party(self, pid: str):
        return self.parties[pid]

    @property
    def mobile(self) -> mobile.MobileState:
        return self.parties["mobile"]

    def of_kind(self, kind: str) -> list[tuple[str, Any]]:
        prefix = kind + ":"
        return [(pid, s) for pid, s in self.parties.items_ if pid.startswith(prefix)]


@attrs.frozen
class Record:
    """What one step did, for narratives and diagrams (not part of the World)."""
    kind: str           # deliver | send | log | fire | fault | user | crash | drop
    party: str
    text: str
    peer: str = ""
    data: tuple = ()
    entry: LogEntry | None = None   # the log line, for kinds log and crash (and a pod's restart)


def initial(cfg: Config) -> World:
    parties: dict = {"mobile": mobile.initial()}
    for r, p in cfg.pods():
        parties[region_party(r, p)] = region.initial(r, p)
        parties[bridge_party(r, p)] = bridge.initial(r, p)
    for d in cfg.deployments():
        parties[livekit_party(d)] = livekit.initial(d)
    return World(Clock(), Network(), FMap.of(parties))


# --- effects ------------------------------------------------------------------------------------

class _Run:
    """Carries a world through one step while collecting records (unless `keep` is false: nobody
    reads them). The world's parts are kept apart while the step runs (one World is built at the
    end, `w`, not one per effect)."""

    def __init__(self, w: World, cfg: Config, keep: bool = True):
        self.cfg, self.records, self.keep = cfg, [], keep
        self.clock, self.net, self.parties = w.clock, w.net, w.parties
        self.monitors, self.routes, self.unreachable = w.monitors, w.routes, w.unreachable

    @property
    def w(self) -> World:
        """The world as the step has left it so far."""
        return World(self.clock, self.net, self.parties, self.monitors, self.routes,
                     self.unreachable)

    def rec(self, kind: str, party: str, text: str, peer: str = "", entry: LogEntry | None = None,
            **data: Any) -> None:
        if self.keep:
            self.records.append(Record(kind, party, text, peer, tuple(sorted(data.items())), entry))

    def logged(self, pid: str, kind: str, text: str, data: tuple = ()) -> LogEntry:
        """A log line: the monitors see it now; the caller puts it in a Record."""
        entry = LogEntry(self.clock.now, pid, kind, text, data)
        self.monitors = monitor(self.monitors, entry, self.cfg)
        return entry

    def set_party(self, pid: str, state: Any) -> None:
        self.parties = self.parties.set(pid, state)

    def alive(self, pid: str) -> bool:
        return getattr(self.parties.get(pid), "alive", True)

    def dispatch(self, pid: str, conn, msg) -> None:
        module = MODULES[split(pid)[0]]
        ctx = Ctx(self.clock.now, self.cfg, pid)
        state, effects = module.handle(self.parties[pid], conn, msg, ctx)
        self.set_party(pid, state)
        self.apply(pid, effects)

    def stimulate(self, pid: str, fn, *args) -> None:
        ctx = Ctx(self.clock.now, self.cfg, pid)
        state, effects = fn(self.parties[pid], *args, ctx)
        self.set_party(pid, state)
        self.apply(pid, effects)

    def apply(self, pid: str, effects: list) -> None:
        for e in effects:
            if isinstance(e, Send):
                self.net, sent = self.net.send(e.conn, pid, e.msg, self.clock.now)
                if sent:
                    self.rec("send", pid, name_of(e.msg))
            elif isinstance(e, Open):
                self.open(pid, e)
            elif isinstance(e, Close):
                self.net = self.net.close(e.conn, pid, e.error,
                                          notify_unrouted=not self.cfg.a("silent_close"),
                                          now=self.clock.now)
            elif isinstance(e, SetTimer):
                self.clock = self.clock.set(pid, e.name, e.delay, e.key)
            elif isinstance(e, CancelTimer):
                self.clock = self.clock.cancel(pid, e.name, e.key)
            elif isinstance(e, Await):
                local = f"{conn_owner(self.parties[pid], pid)}/{'cpu' if e.prompt else 'local'}"
                net = self.net if local in self.net.conns else self.net.open(local, "local", pid,
                                                                             pid, pid)
                self.net, _ = net.send(local, pid, Resumed(e.tag), self.clock.now)
            elif isinstance(e, Log):
                self.rec("log", pid, e.text, kind_=e.kind,
                         entry=self.logged(pid, e.kind, e.text, e.data))
            elif isinstance(e, Crash):
                self.crash(pid, e.reason)
            else:  # pragma: no cover - a party returned something that is not an effect
                raise TypeError(f"{pid} returned {e!r}")

    def open(self, pid: str, e: Open) -> None:
        self.net = self.net.open(e.conn, e.kind, pid, e.to)
        cut_off = e.kind == "signal" and self.unreachable.get(pid, -1) > self.clock.now
        if cut_off or (not e.to.startswith("region:") and not self.alive(e.to)):
            self.net = self.net.fail(e.conn, notify_server=False, now=self.clock.now)

    def crash(self, pid: str, reason: str) -> None:
        """The bridge panics; start.sh stops the pod's cloud process too (cloud/start.sh:57-62)."""
        name, pod = split(pid)[1:]
        for dead in (pid, region_party(name, pod)):
            net = self.net
            for c in net.conns_of(dead):
                net = net.fail(c.id, now=self.clock.now)
            self.net = net
            self.clock = self.clock.cancel_all(dead).set(dead, "restart",
                                                         self.cfg.timing.pod_restart)
            module = MODULES[split(dead)[0]]
            life = getattr(self.parties[dead], "life", 0) + 1
            self.set_party(dead, evolve(module.initial(name, pod, alive=False), life=life))
            text = reason if dead == pid else "stopped by start.sh"
            self.rec("crash", dead, text, entry=self.logged(dead, "crash", text))

    # --- actions ----------------------------------------------------------------------------
    def deliver(self, a: NetworkDelivers) -> None:
        env = next((h for h in self.net.heads() if (h.conn, h.to_server) == (a.conn, a.to_server)),
                   None)
        if env is None:
            raise Impossible(f"nothing to deliver on {a.conn} towards the "
                             f"{'server' if a.to_server else 'client'}")
        conn = self.net.conn(env.conn)
        if a.to_server and not conn.server:
            pods = self.cfg.a("pods_per_region")
            pod = a.pod if a.pod is not None else self.routes % pods
            if not 0 <= pod < pods:
                raise Impossible(f"no pod {pod} in {conn.target}")
            server = region_party(conn.target.split(":", 1)[1], pod)
            self.net, self.routes = self.net.route(env.conn, server), self.routes + 1
            if not self.alive(server):
                self.net = self.net.fail(env.conn, notify_server=False, now=self.clock.now)
                return
            conn = self.net.conn(env.conn)
        self.net = self.net.pop(env)
        receiver = self.net.receiver(env)
        sender = conn.client if env.to_server else conn.server
        self.rec("deliver", receiver, name_of(env.msg), peer=sender, conn=env.conn)
        self.dispatch(receiver, conn, env.msg)

    def fire(self) -> None:
        timer = self.clock.next()
        if timer is None:
            raise Impossible("no timer is pending")
        late = overdue(self.w, self.cfg, timer.due)
        if late:
            raise Impossible(f"the {timer.name} timer is due after {late}")
        self.clock = self.clock.pop(timer)
        if timer.name == "restart":
            name, pod = split(timer.party)[1:]
            module = MODULES[split(timer.party)[0]]
            life = getattr(self.parties[timer.party], "life", 0)
            self.set_party(timer.party, evolve(module.initial(name, pod), life=life))
            self.rec("fire", timer.party, timer.name,
                     entry=self.logged(timer.party, "restart", "pod restarted"))
            return
        self.rec("fire", timer.party, timer.name)
        self.dispatch(timer.party, None, TimerFired(timer.name, timer.key))

    def advance(self, ms: int) -> None:
        if ms <= 0:
            raise Impossible("time advances by a positive amount")
        target = self.clock.now + ms
        late = tick_overdue(self.w, self.cfg, target)
        if late:
            raise Impossible(f"the clock cannot reach t={target / 1000:g}s: {late}")
        while (t := self.clock.next()) is not None and t.due <= target:
            self.fire()
        self.clock = evolve(self.clock, now=target)


def overdue(w: World, cfg: Config, t: int) -> str:
    """Under `message_delay=bounded`, why the clock may not reach `t` with the messages now in
    flight: the oldest network message's deadline (`Network.deadline`) comes first. "" when it
    may (always under `unbounded`)."""
    if cfg.a("message_delay") != "bounded":
        return ""
    deadline = w.net.deadline(cfg.timing.max_delay)
    if deadline is None or t <= deadline:
        return ""
    return (f"the delivery deadline t={deadline / 1000:g}s of a message in flight "
            f"(message_delay=bounded: at most {cfg.timing.max_delay} ms)")


def tick_overdue(w: World, cfg: Config, target: int) -> str:
    """`overdue` for a tick to `target` that fires every timer due on the way: also each timer
    so fired must be due within `max_delay` of `target`, since what it sends travels until then
    (a longer stretch is a fire, then a tick)."""
    late = overdue(w, cfg, target)
    if late or cfg.a("message_delay") != "bounded":
        return late
    for t in w.clock.timers:
        if t.due <= target and target > t.due + cfg.timing.max_delay:
            return (f"the {t.name} timer fires at t={t.due / 1000:g}s on the way and what it sends "
                    f"must arrive within {cfg.timing.max_delay} ms (message_delay=bounded)")
    return ""


def _fault_conn(w: World, cfg: Config, a) -> str:
    """The connection a fault breaks; Impossible when there is none."""
    conn = _fault_target(w, a)
    if conn is None:
        if isinstance(a, GlassesSocketDrops):
            raise Impossible("the glasses WebSocket is not open")
        if isinstance(a, GrpcStreamErrors):
            raise Impossible(f"{region_party(a.region, a.pod)} has no open audio stream")
        if a.participant == "mobile":
            raise Impossible("the mobile has no connected room")
        raise Impossible(f"{a.participant} has no connected session")
    return conn


def _fault_target(w: World, a) -> str | None:
    """The connection a fault breaks, None when there is none (`enabled` asks for every fault)."""
    if isinstance(a, GlassesSocketDrops):
        ws = w.mobile.ws
        return ws if ws is not None and w.net.conn(ws).open else None
    if isinstance(a, GrpcStreamErrors):
        r = w.parties.get(region_party(a.region, a.pod))
        s = r.sessions.get(r.map_sid) if r and r.map_sid is not None else None
        c = r.clients.get(s.client) if s and s.client is not None else None
        if c is None or c.stream is None or not w.net.conn(c.stream).open:
            return None
        return c.stream
    if a.participant == "mobile":
        m = w.mobile
        room = m.rooms.get(m.room) if m.room is not None else None
        if room is None or room.phase is not mobile.RoomPhase.CONNECTED:
            return None
        return room.conn
    b = w.parties.get(a.participant)
    s = bridge.current(b, USER) if isinstance(b, bridge.BridgeState) else None
    if s is None or s.phase is not bridge.LinkPhase.CONNECTED:
        return None
    return s.lk


def step_verbose(w: World, action, cfg: Config, records: bool = True
                 ) -> tuple[World, list[Record]]:
    """The world after `action` and what the step did (no records when `records` is false)."""
    run = _Run(w, cfg, records)
    if isinstance(action, NetworkDelivers):
        run.deliver(action)
    elif isinstance(action, ClockFiresTimer):
        run.fire()
    elif isinstance(action, ClockAdvances):
        run.advance(action.ms)
    elif isinstance(action, UserSelectsRegion):
        if action.region not in cfg.regions:
            raise Impossible(f"unknown region {action.region!r}")
        if action.region == w.mobile.backend:
            raise Impossible(f"the backend is already {action.region}")
        if not mobile.switch_ready(w.mobile, w.now, cfg):
            raise Impossible(f"a region switch takes seconds: the next one is possible "
                             f"{cfg.timing.switch_gap} ms after the last (human_paced_switches)")
        run.stimulate("mobile", mobile.select_region, action.region)
    elif isinstance(action, MobileSpeaks):
        if not w.mobile.mic_on:
            raise Impossible("the microphone is off")
        run.stimulate("mobile", mobile.speak)
    elif isinstance(action, UserSetsMic):
        if action.on == w.mobile.mic_on:
            raise Impossible(f"the microphone is already {'on' if action.on else 'off'}")
        run.stimulate("mobile", mobile.set_mic, action.on)
    elif isinstance(action, (GlassesSocketDrops, GrpcStreamErrors, LiveKitSignalLost)):
        conn = _fault_conn(w, cfg, action)
        run.rec("fault", "network", f"{type(action).__name__}: {conn} fails")
        run.net = run.net.fail(conn, now=run.clock.now)
        if isinstance(action, LiveKitSignalLost):
            until = w.now + action.seconds * 1000
            run.unreachable = run.unreachable.set(action.participant, until)
    else:
        raise Impossible(f"unknown action {action!r}")
    return run.w, run.records


def step(w: World, action, cfg: Config) -> World:
    return step_verbose(w, action, cfg, records=False)[0]


def enabled(w: World, cfg: Config) -> list:
    """Every action possible now, in a fixed order."""
    m = w.mobile
    acts: list = ([UserSelectsRegion(r) for r in cfg.regions if r != m.backend]
                  if mobile.switch_ready(m, w.now, cfg) else [])
    acts.append(UserSetsMic(not m.mic_on))
    if m.mic_on:
        acts.append(MobileSpeaks())
    candidates = [GlassesSocketDrops()]
    candidates += [GrpcStreamErrors(r, p) for r, p in cfg.pods()]
    participants = ["mobile"] + [bridge_party(r, p) for r, p in cfg.pods()]
    candidates += [LiveKitSignalLost(p, OUTAGE_SECONDS[0]) for p in participants]
    for a in candidates:
        if _fault_target(w, a) is None:
            continue
        if isinstance(a, LiveKitSignalLost):
            acts += [LiveKitSignalLost(a.participant, s) for s in OUTAGE_SECONDS]
        else:
            acts.append(a)
    for h in w.net.heads():
        conn = w.net.conn(h.conn)
        if h.to_server and not conn.server:
            acts += [NetworkDelivers(h.conn, True, p) for p in range(cfg.a("pods_per_region"))]
        else:
            acts.append(NetworkDelivers(h.conn, h.to_server))
    nxt = w.clock.next()
    if nxt is not None and not overdue(w, cfg, nxt.due):
        acts.append(ClockFiresTimer())
    acts += [a for a in _ADVANCES if not tick_overdue(w, cfg, w.now + a.ms)] \
        if cfg.a("message_delay") == "bounded" else _ADVANCES
    return acts


_ADVANCES = tuple(ClockAdvances(ms) for ms in ADVANCE_MS)


# --- running normally ---------------------------------------------------------------------------

MAX_STEPS = 20_000


def _do(w: World, action, cfg: Config, on_step, records: bool = True) -> World:
    w, recs = step_verbose(w, action, cfg, records and on_step is not None)
    if on_step is not None:
        on_step(action, w, recs)
    return w


def canonical_head(w: World):
    """The message a normal run delivers next: prompt local work first (`Await(prompt=True)`,
    channels `<party>/cpu`), then the oldest message in flight."""
    heads = w.net.heads()
    prompt = [h for h in heads if h.conn.endswith("/cpu")]
    return (prompt or heads or [None])[0]


def deliver_all(w: World, cfg: Config, on_step=None, records: bool = True) -> World:
    """Deliver every message in flight in the canonical order (`canonical_head`), with canonical
    routing. `on_step(action, world, records)` observes each micro step (`records` false: an
    observer that does not read them gets none)."""
    for _ in range(MAX_STEPS):
        head = canonical_head(w)
        if head is None:
            return w
        w = _do(w, NetworkDelivers(head.conn, head.to_server), cfg, on_step, records)
    raise RuntimeError("messages kept flowing without end")


def short_timer_pending(w: World) -> bool:
    return any(t.name in SHORT_TIMERS for t in w.clock.timers)


def quiescent(w: World) -> bool:
    """No message in flight and no activity timer pending (the quiescence rule)."""
    return w.net.idle() and not short_timer_pending(w)


def settle(w: World, cfg: Config, on_step=None, records: bool = True) -> World:
    """Run fault-free to quiescence: deliver everything; while an activity timer is pending, fire
    the earliest timer (whatever its kind, so time stays in order); repeat."""
    for _ in range(MAX_STEPS):
        w = deliver_all(w, cfg, on_step, records)
        if not short_timer_pending(w):
            return w
        w = _do(w, ClockFiresTimer(), cfg, on_step, records)
    raise RuntimeError("the system does not settle")


def advance(w: World, ms: int, cfg: Config, on_step=None, records: bool = True) -> World:
    """Time passes while the system runs normally: messages are delivered as they are sent and
    timers fire when due; the clock ends `ms` later."""
    target = w.now + ms
    for _ in range(MAX_STEPS):
        w = deliver_all(w, cfg, on_step, records)
        t = w.clock.next()
        if t is None or t.due > target:
            break
        w = _do(w, ClockFiresTimer(), cfg, on_step, records)
    return evolve(w, clock=evolve(w.clock, now=max(w.now, target)))
