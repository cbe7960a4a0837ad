"""The explorer's canonical state key: two Worlds with the same key have the same future.

`key(world, cfg)` is a nested tuple; the explorer keeps one state per key (`model/engines/bfs.py`). It is
the World itself with what cannot change the future removed or normalised, each for a stated
reason (the argument is in docs/explore.md, "The state key"; tests/test_explore.py checks it by
random walks):

1. **Time, shifted by whole seconds; old times that no longer matter.** Every time the model
   keeps is compared only with another time or with `now` plus a constant (timers fire at `due`;
   LiveKit checks `exp`/`nbf` against `now` with a leeway; the grace check subtracts two times). Tokens carry times in whole seconds
   (`tokens.unix_seconds`: `now // 1000`), so shifting every time by a multiple of 1000 ms changes
   no comparison. The key holds `now % 1000` and every time minus `base = now - now % 1000`:
   timer dues, `TIME_FIELDS`, LiveKit-unreachable deadlines (past ones dropped: `now` never
   goes back), and the `nbf`/`exp` claims of every token (a JWT is replaced by its decoded claims
   with shifted times; the claims and the deployment's key determine the token, `tokens.mint`).
   A time of the past read only as "less than a constant ago" (`HORIZONS`) becomes "long ago"
   once that constant has passed.
   A message's sending time (`Envelope.sent`) is kept, shifted, under `message_delay=bounded`
   (its delivery deadline, `Network.deadline`) and dropped under `unbounded` and on a party's
   local await channel, where nothing reads it.
2. **Sequence numbers** (`Clock.seq`, `Timer.seq`, `Network.seq`, `Envelope.seq`) only order
   timers with the same due time and messages in flight, and every new one is larger than all
   existing ones: the key keeps the order (tuples in order) and drops the numbers.
3. **Canonical routing**: `routes` is used only as `routes % pods_per_region`.
4. **Write-only history**: a region's `pipeline` (the last packet each audio path brought) and the
   mobile's packet counter are read only by the AudioReachesActiveRegion probe, which looks for a
   packet name never used before; packet names (`audio-<n>`) are therefore all alike.
5. **Monitors** (`model/system/monitors.py`): a first occurrence (a refused token, a bridge crash) and a
   grace window's reconnection and departure are read only as "happened or not" for the verdict;
   the key keeps just that (the detail a report prints is taken from the state the explorer keeps).

6. **Symmetry**: two regions in the same cloud location using the same LiveKit deployment
   (`cloud-debug` and `cloud-livekit` under the `shared` and `centralus-shared` topologies) differ
   only in their names, which the model uses as labels: a world and the world with the two names
   exchanged everywhere (party ids, connection ids, settings, timers; maps re-sorted as `FMap.of`
   sorts them) have mirrored futures with the same verdicts. The key is the smaller of the two
   interned forms. `tests/test_explore.py` checks the swap is an automorphism by random walks.

What is *not* merged: connection, room, session and client ids (renaming them would be sound only
if no order depended on them, and `FMap` orders by key), the absolute times inside the one-second
grid, and every party field not named above.
"""
from __future__ import annotations

import enum
from typing import Any

import attrs

from model.system import tokens
from model.system.fmap import FMap

TIME_FIELDS = {
    "MobileState": ("switched_at",),                # mobile: the last switch (human-paced switches)
    "Session": ("last_rejoin",),                    # region: the rejoin throttle (status-rejoin)
    "Window": ("dropped",),                         # monitors: the socket drop of a grace window
    "LogEntry": ("t",),
}
"""Fields (by class name) that hold a time in ms on the model clock. A field the model adds that
holds a time must be listed here: `tests/test_explore.py`'s time-shift walk fails until it is."""

HORIZONS = {
    ("MobileState", "switched_at"): "switch_gap",    # read only as now - t >= switch_gap
    ("Session", "last_rejoin"): "rejoin_throttle",   # read only as now - t < rejoin_throttle
    ("Window", "dropped"): "grace",                  # read only as t' - t <= grace, t' >= now
}
"""Times of the past that matter only while they are recent: once `now - t` passes the named
`Timing` constant they never matter again (`now` never goes back), and the key says "long ago"."""

DROP_FIELDS = {
    "RoomState": ("created",),          # livekit: when the room was created; nothing reads it
    "RegionState": ("pipeline",),
    "MobileState": ("packets",),
}
"""Fields the future never reads (point 4)."""

PRESENCE_FIELDS = {
    "Session": ("disconnected_at",),    # region: written on a socket close, never compared
    "Window": ("reconnected", "left"),
    "Monitors": ("stale_token", "bridge_crash"),
}
"""Fields whose only future use is whether they are set (point 5)."""

_SPECS: dict[type, tuple] = {}
_LIMITS: dict[tuple, int] = {}      # (class name, field) -> horizon in ms, for the current cfg
_TOKENS: dict[str, tuple] = {}
_MEMO: dict[tuple, tuple] = {}
_MEMO_LIMIT = 400_000
_INTERN: dict[tuple, int] = {}
"""Hash-consing: every canonical form of a record or map is replaced by a number, the same number
for equal forms; a World's key is then a short tuple, cheap to hash and compare."""


def _spec(t: type) -> tuple:
    spec = _SPECS.get(t)
    if spec is None:
        name = t.__name__
        rules = []
        for f in attrs.fields(t):
            if f.name in DROP_FIELDS.get(name, ()):
                continue
            rule = ("time" if f.name in TIME_FIELDS.get(name, ()) else
                    "presence" if f.name in PRESENCE_FIELDS.get(name, ()) else "plain")
            rules.append((f.name, rule))
        spec = _SPECS[t] = (name, tuple(rules))
    return spec


def _token(text: str, base_s: int, mask: bool) -> Any:
    claims = _TOKENS.get(text)
    if claims is None:
        try:
            c = tokens.claims_of(text)
        except Exception:  # noqa: BLE001 - not a token after all: keep the text
            _TOKENS[text] = claims = ("text", text)
        else:
            claims = _TOKENS[text] = ("jwt",) + tuple(sorted(
                (k, repr(v)) if k not in ("nbf", "exp") else (k, v) for k, v in c.items()))
    if claims[0] != "jwt":
        return text
    if mask:
        return ("jwt",) + tuple((k, v) for k, v in claims[1:] if k in ("iss", "sub", "video"))
    return tuple((k, v - base_s) if k in ("nbf", "exp") else (k, v) for k, v in claims[1:])


_TIMED = [0]
"""How many times and tokens `canon` has met: a subtree that met none is the same for every
base, and its memo entry serves every base."""
_MEMOS: dict[tuple, dict] = {}


def _rename(text: str, pair: tuple | None) -> str:
    """`text` with the two region names of `pair` swapped (point 6)."""
    if pair is None or (pair[0] not in text and pair[1] not in text):
        return text
    a, b = pair
    return text.replace(a, "\0").replace(b, a).replace("\0", b)


def canon(obj: Any, now: int, mask: bool = False, swap: tuple | None = None) -> Any:
    """`obj` with times relative to `now - now % 1000` and the rules above applied;
    `mask`: tokens reduced to issuer, identity and grant (`liveness.loop_key`); `swap`: the form
    of the world with those two region names exchanged (point 6)."""
    t = type(obj)
    if t is str:
        if obj.startswith("eyJ") and obj.count(".") == 2:
            _TIMED[0] += 1
            claims = _token(obj, (now - now % 1000) // 1000, mask)
            return claims if swap is None else tuple(
                (k, _rename(v, swap) if isinstance(v, str) else v) for k, v in claims)
        if obj.startswith("audio-") and obj[6:].isdigit():
            return "audio-#"
        return _rename(obj, swap)
    if t in (int, bool, float) or obj is None or isinstance(obj, enum.Enum):
        return obj
    if t is tuple:
        return tuple(canon(x, now, mask, swap) for x in obj)
    memo = _MEMOS.setdefault((mask, swap), {})
    hit = memo.get(id(obj))
    if hit is not None and hit[0] is obj and (hit[2] is None or hit[2] == now):
        if hit[2] is not None:
            _TIMED[0] += 1
        return hit[1]
    before = _TIMED[0]
    if t is FMap:
        items = obj.items_ if swap is None else sorted(
            obj.items_, key=lambda kv: _rename(repr(kv[0]), swap))     # FMap.of's order
        out: Any = tuple((canon(k, now, mask, swap), canon(v, now, mask, swap))
                         for k, v in items)
    elif attrs.has(t):
        name, rules = _spec(t)
        vals: list = [name]
        for field, rule in rules:
            v = getattr(obj, field)
            if rule == "plain":
                vals.append(canon(v, now, mask, swap))
            elif rule == "time":
                _TIMED[0] += 1
                limit = _LIMITS.get((name, field))
                vals.append(None if v is None else "long ago"
                            if limit is not None and now - v > limit else v - (now - now % 1000))
            else:
                vals.append(v is not None)
        out = tuple(vals)
    elif t is dict:
        out = tuple(sorted((canon(k, now, mask, swap), canon(v, now, mask, swap))
                           for k, v in obj.items()))
    elif t is frozenset:     # sorted after renaming, so a set and its mirror get one form
        out = ("set",) + tuple(sorted((canon(x, now, mask, swap) for x in obj), key=repr))
    else:
        out = obj
    out = _INTERN.setdefault(out, len(_INTERN))
    if len(memo) > _MEMO_LIMIT:
        memo.clear()
    memo[id(obj)] = (obj, out, None if _TIMED[0] == before else now)
    return out


def form(w, cfg, mask_tokens: bool = False, swap: tuple | None = None) -> tuple:
    """The canonical form of a World (points 1-5), or of its image under the swap (point 6)."""
    now = w.clock.now
    base = now - now % 1000
    m = mask_tokens
    _set_limits(cfg)
    clock = (now % 1000,) + tuple((t.due - base, _rename(t.party, swap), t.name,
                                   canon(t.key, now, m, swap)) for t in w.clock.timers)
    bounded = cfg.a("message_delay") == "bounded"
    net = (canon(w.net.conns, now, m, swap),
           tuple((_rename(e.conn, swap), e.to_server, canon(e.msg, now, m, swap),
                  e.sent - base if bounded and w.net.conns[e.conn].kind != "local" else None)
                 for e in w.net.inflight))
    unreachable = tuple(sorted((_rename(p, swap), until - base)
                               for p, until in w.unreachable.items() if until > now))
    rest = tuple(canon(getattr(w, f.name), now, m, swap) for f in attrs.fields(type(w))
                 if f.name not in ("clock", "net", "routes", "unreachable"))
    return clock, net, unreachable, w.routes % cfg.a("pods_per_region"), rest


def _set_limits(cfg) -> None:
    limits = {k: getattr(cfg.timing, attr) for k, attr in HORIZONS.items()
              if hasattr(cfg.timing, attr)}
    if limits != _LIMITS:          # another configuration: memo entries may use other horizons
        _LIMITS.clear()
        _LIMITS.update(limits)
        _MEMOS.clear()


def symmetric_pair(cfg) -> tuple | None:
    """Two regions the key may swap: same cloud location (`config.GEO`, which fix 3's room names
    use) and the same LiveKit deployment, so that no name the model compares differs (point 6)."""
    from model.system.config import GEO
    for i, a in enumerate(cfg.regions):
        for b in cfg.regions[i + 1:]:
            if GEO[a] == GEO[b] and cfg.deployment_of(a) == cfg.deployment_of(b):
                return (a, b)
    return None


def key(w, cfg, mask_tokens: bool = False, symmetry: bool = True) -> Any:
    """The canonical key of a World (module docstring); `mask_tokens` for liveness loops only.
    With a symmetric pair of regions, the smaller of the interned forms of the world and of its
    swapped image: a world and its image get the same key."""
    plain = form(w, cfg, mask_tokens)
    pair = symmetric_pair(cfg) if symmetry and not mask_tokens else None
    if pair is None:
        return plain
    a = _INTERN.setdefault(plain, len(_INTERN))
    known = _ORBIT.get((a, pair))
    if known is not None:          # this form, or its mirror, was keyed before
        return known
    b = _INTERN.setdefault(form(w, cfg, mask_tokens, pair), len(_INTERN))
    _ORBIT[(a, pair)] = _ORBIT[(b, pair)] = min(a, b)
    return min(a, b)


_ORBIT: dict[tuple, int] = {}
"""(interned form, swapped pair) -> the key of its orbit: a state met again, or the mirror of one
met before, needs no second form."""


def plain_key(w, cfg) -> Any:
    """No reduction at all: the World itself (for measuring what the key buys)."""
    return w
