"""The monitors (model/system/monitors.py) decide exactly what the former whole-log checks decided.

The reference definitions below are the properties as they were written over the whole log
(commit 9f70e02, model/properties/properties.py), kept here as the oracle. Random walks over every fix and
profile compare them with the monitor-backed properties after every step, and the walks must reach
each verdict both ways, so the comparison is not vacuous.
"""
from __future__ import annotations

import random
from pathlib import Path

import pytest

import fixes
from model.properties import properties as P
from model.engines import runner
from model.system import world as W
from model.system.config import PROFILES
from fixes import make_config
from model.system.parties.region import pod_name
from model.engines.trace import load, parse, step_dict

# --- the whole-log definitions (the oracle) ------------------------------------------------------


def old_no_stale_token_use(log, cfg):
    for e in log:
        if e.kind == "token_rejected":
            what = "resume" if e.get("resume") else "join"
            return (f"{e.get('client')}'s {what} as {e.get('identity')} refused by {e.party} at "
                    f"t={e.t / 1000:g}s: {e.get('reason')} ({e.text.split(': ', 1)[-1]})")
    return None


def old_bridge_never_crashes(log, cfg):
    for e in log:
        if e.kind == "crash" and e.party.startswith("bridge:"):
            return f"{e.party} crashed at t={e.t / 1000:g}s: {e.text}"
    return None


def old_grace_keeps_audio(log, cfg):
    for i, e in enumerate(log):
        if e.kind != "ws_closed" or not e.get("error"):
            continue
        pod, session = e.party, e.get("session")
        later = [(j, x) for j, x in enumerate(log) if j > i and x.party == pod
                 and x.get("session") == session and x.kind in ("session_reconnected", "ws_closed")]
        if not later or later[0][1].kind != "session_reconnected":
            continue
        if later[0][1].t - e.t > cfg.timing.grace:
            continue
        region = _region(pod)
        if _selected_away(log[:i], region):
            continue
        end = next((j for j, x in later[1:] if x.kind == "ws_closed"), len(log))
        bridge_pid = "bridge:" + pod.split(":", 1)[1]
        present = _bridge_sid_at(log, i, bridge_pid)
        if present is None:
            continue
        for k, x in enumerate(log[i:end], i):
            if x.kind == "participant_left" and x.get("sid") == present:
                violated_at = max(k, later[0][0])
                if any(_switch(y) and y.get("to") != region for y in log[i:violated_at]):
                    break       # the user selected another region before it went wrong
                return (f"{pod_name(pod)}'s bridge ({present}) left the room at t={x.t / 1000:g}s "
                        f"({x.get('reason')}) although the socket dropped at t={e.t / 1000:g}s "
                        f"and reconnected at t={later[0][1].t / 1000:g}s, within the grace period")
    return None


def _region(party):
    return party.partition(":")[2].partition("#")[0]


def _switch(x):
    return x.kind == "select_region" and x.get("frm") and x.get("frm") != x.get("to")


def _selected_away(log, region):
    """Whether the user selected another region after the region's session last attached a
    socket: a drop seen after that is the switch's doing, not a blip."""
    away = False
    for x in log:
        if _switch(x) and x.get("frm") == region:
            away = True
        elif x.kind in ("session_created", "session_reconnected") and _region(x.party) == region:
            away = False
    return away


def _bridge_sid_at(log, index, bridge_pid):
    """The bridge's participant at log[index], unless its pod's session began dispose() after
    it joined (the bridge is then leaving: it serves no later drop)."""
    present, retiring = None, False
    for x in log[:index]:
        if x.kind == "participant_joined" and x.get("client") == bridge_pid:
            present, retiring = x.get("sid"), False
        elif x.kind == "participant_left" and x.get("sid") == present:
            present = None
        elif x.kind == "dispose_start" and "bridge:" + x.party.split(":", 1)[1] == bridge_pid:
            retiring = present is not None
    return None if retiring else present


def old_witnesses(log):
    target, switched = None, False
    for e in log:
        if e.kind == "select_region" and e.get("frm"):
            target = e.get("to")
        elif e.kind == "ack" and target and e.get("region") == target:
            switched = True
            break
    return {"AudioFlowsThroughLiveKit": any(e.kind == "audio_received" and e.get("via") == "livekit"
                                            for e in log),
            "RegionSwitchCompletes": switched,
            "GraceDisposesSession": any(e.kind == "session_disposed" for e in log)}


PAIRS = [("NoStaleTokenUse", P.no_stale_token_use, old_no_stale_token_use),
         ("BridgeNeverCrashes", P.bridge_never_crashes, old_bridge_never_crashes),
         ("GraceKeepsAudio", P.grace_keeps_audio, old_grace_keeps_audio)]

# --- random walks and the corpus ------------------------------------------------------------------

CONFIGS = [("baseline", p) for p in PROFILES] + [(f, None) for f in fixes.known() if f != "baseline"]
CORPUS = sorted((Path(__file__).parent.parent / "model" / "corpus").glob("*.json"))


class Compare:
    """Keeps the log of a run and compares the two definitions after every micro step."""

    def __init__(self, cfg, seen: set):
        self.cfg, self.seen, self.log = cfg, seen, []

    def __call__(self, action, w, records) -> None:
        self.log += runner.log_of(records)
        for name, new, old in PAIRS:
            got, want = new(w, self.cfg), old(self.log, self.cfg)
            assert got == want, (name, len(self.log))
            self.seen.add((name, want is not None))
        assert P.witnesses(w) == old_witnesses(self.log)
        self.seen.update(("witness", k, v) for k, v in P.witnesses(w).items())


def walk(cfg, rng, length, seen):
    """A random walk that settles often (so audio flows and switches complete) and favours
    socket drops, speaking and time near the grace period."""
    w, compare = W.initial(cfg), Compare(cfg, seen)
    for _ in range(length):
        acts = W.enabled(w, cfg)
        favoured = [a for a in acts if isinstance(a, (W.GlassesSocketDrops, W.MobileSpeaks))]
        try:
            if rng.random() < 0.3:
                w = W.settle(w, cfg, compare)
                continue
            a = rng.choice(favoured) if favoured and rng.random() < 0.2 else rng.choice(acts)
            w, records = W.step_verbose(w, a, cfg)
        except (RuntimeError, KeyError, AssertionError, ValueError):
            return          # a model error is the totality tests' business, not this test's
        compare(a, w, records)


def test_monitors_agree_with_the_whole_log():
    seen: set = set()
    for path in CORPUS:
        trace = load(path)
        cfg = runner.config_for(trace)
        w, compare = W.initial(cfg), Compare(cfg, seen)
        for step in trace.steps:
            w = runner.apply_step(w, step_dict(step), cfg, compare)
    for k, (fix, profile) in enumerate(CONFIGS):
        cfg = make_config([fix], profile)
        rng = random.Random(k)
        for _ in range(3):
            walk(cfg, rng, 60, seen)
    # every verdict was reached both ways, so the comparison above compared something
    for name, _, _ in PAIRS:
        assert {(name, True), (name, False)} <= seen, name
    for witness in P.WITNESSES:
        assert {("witness", witness, True), ("witness", witness, False)} <= seen, witness


@pytest.mark.parametrize("fix", ["baseline", "fix2-dispose-on-disconnect"])
def test_grace_monitor_agrees_on_drops_and_reconnections(fix):
    """Scripted: drops, reconnections inside and outside grace, a switch away and back."""
    steps = [{"step": "connect", "region": "cloud-debug"}, {"step": "settle"},
             {"step": "ws_drop"}, {"step": "settle"}, {"step": "ws_drop"},
             {"step": "advance", "seconds": 61}, {"step": "settle"},
             {"step": "switch_region", "to": "france"}, {"step": "settle"},
             {"step": "ws_drop"}, {"step": "settle"},
             {"step": "switch_region", "to": "cloud-debug"}, {"step": "settle"}]
    r = runner.run(parse({"format": "handover.trace/1", "fixes": [fix], "steps": steps}))
    assert P.grace_keeps_audio(r.world, r.cfg) == old_grace_keeps_audio(r.log, r.cfg)
    assert ("GraceKeepsAudio" in r.violated) == (fix != "baseline")


# --- the World does not grow with the run --------------------------------------------------------

def speak_settle(n: int):
    steps = [{"step": "connect", "region": "france"}, {"step": "settle"}]
    steps += [{"step": "speak"}, {"step": "settle"}] * n
    return runner.run(parse({"format": "handover.trace/1", "steps": steps}))


def test_the_world_does_not_grow_with_the_number_of_steps():
    short, long = speak_settle(10), speak_settle(1000)
    assert len(long.log) > 20 * len(short.log)          # the log, an output, does grow
    assert long.world.monitors == short.world.monitors
    assert long.world.parties["region:france"].pipeline == (("audio-1000", "livekit"),)
    # only counters (packet numbers, message sequence numbers) get longer, by their digits
    assert len(repr(long.world)) - len(repr(short.world)) < 20
