"""Fix modules and their composition."""
import pytest

import fixes
from model.system import seams
from model.system.config import ConfigError
from fixes import make_config


@pytest.mark.parametrize("name", list(fixes.REGISTRY))
def test_every_fix_is_a_documented_module_of_known_seams(name):
    mod = fixes.module(name)
    assert (mod.__doc__ or "").strip().startswith(name), "docstring opens with the fix name"
    assert set(mod.REPLACES) <= set(seams.names())
    if name != "baseline":
        assert mod.REPLACES, "a fix replaces at least one seam"


@pytest.mark.parametrize("name", fixes.known())
def test_every_registered_fix_set_builds_a_config(name):
    cfg = make_config([name])
    for seam_name, fn in cfg.seams.items():
        assert cfg.seam(seam_name) is fn


def test_fix_sets_compose_by_union():
    cfg = make_config(["fix1-mobile-disconnect-first", "fix3-region-room-names"])
    assert cfg.fixes == ("fix1-mobile-disconnect-first", "fix3-region-room-names")
    assert {"mobile.disconnect_old_room", "room_name"} == set(cfg.seams.keys())


def test_combination_names_expand():
    assert make_config(["team-sequence"]).fixes == fixes.COMBINATIONS["team-sequence"]


def test_conflicting_fixes_are_refused_with_both_names_and_the_seam():
    with pytest.raises(ConfigError) as e:
        make_config(["status-rejoin", "status-rejoin-as-deployed"])
    msg = str(e.value)
    assert "status-rejoin" in msg and "status-rejoin-as-deployed" in msg and "seam" in msg


def test_unknown_fix_lists_the_known_ones():
    with pytest.raises(ConfigError) as e:
        make_config(["fix9"])
    assert "fix9" in str(e.value) and "fix1-mobile-disconnect-first" in str(e.value)


def test_baseline_seams_are_the_party_functions():
    cfg = make_config(["baseline"])
    from model.system.parties import region
    assert cfg.seam("room_name") is region.room_name
    assert cfg.seam("room_name")("u", "france", cfg) == "u"
    assert make_config(["fix3-region-room-names"]).seam("room_name")("u", "france", cfg) == "u-france"


def test_fix3_as_written_renames_the_bridge_room_only():
    """The report's Fix 3 changes getRoomName(); the REST token keeps room = email
    (livekit.api.ts:82). The completed variant renames both."""
    cfg = make_config(["fix3-region-room-names"])
    assert cfg.seam("room_name")("u", "france", cfg) == "u-france"
    assert cfg.seam("region.rest_room_name")("u", "france", cfg) == "u"
    done = make_config(["fix3-region-room-names-with-rest"])
    assert done.seam("region.rest_room_name")("u", "france", done) == "u-france"


def test_fix3_suffix_follows_the_region_env_assumption():
    """REGION is set nowhere in the repository (pino-logger.ts:11): its value is an assumption."""
    def names(mode):
        cfg = make_config(["fix3-region-room-names"], region_env=mode)
        return [cfg.seam("room_name")("u", r, cfg) for r in ("cloud-debug", "cloud-livekit")]
    assert names("per-location") == ["u-centralus", "u-centralus"]
    assert names("per-deployment") == ["u-cloud-debug", "u-cloud-livekit"]
    assert names("unset") == ["u-unknown", "u-unknown"]


def test_declared_introduced_violations_are_per_fix_and_reasoned():
    """fixes.introduces: only what the fixes of a set declare, each with a reason."""
    import fixes
    assert fixes.introduces(["baseline"]) == {}
    assert set(fixes.introduces(["fix3-region-room-names"])) == {"AudioReachesActiveRegion"}
    assert fixes.introduces(["fix3-region-room-names-with-rest"]) == {}
    both = fixes.introduces(["report-fixes"])
    assert set(both) == {"AudioReachesActiveRegion", "GraceKeepsAudio"}
    assert all("livekit.api.ts:82" in why or "grace" in why for why in both.values())


def test_docs_list_every_seam_with_its_party_module():
    """docs/fixes.md, "The seams": one row per seam, naming the module that defines it."""
    import inspect
    import re
    from pathlib import Path
    root = Path(__file__).resolve().parent.parent
    page = (root / "docs" / "fixes.md").read_text().split("## The registry")[0]
    rows = dict(re.findall(r"^\| `([a-z_.]+)` \| `([^`]+)` \|", page, re.M))
    where = {n: str(Path(inspect.getsourcefile(seams.baseline(n))).relative_to(root))
             for n in seams.names()}
    assert rows == where
