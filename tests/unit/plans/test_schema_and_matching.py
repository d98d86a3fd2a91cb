"""The plan library, its schema and the matcher, without any service.

Every plan under ``plans/library`` must validate, and every example a plan carries (facts and the
level they must give) is run through :func:`plans.matching.evaluate`. Matching: the most specific
incident type wins, a type without a plan falls back to its parent's, no plan at all is a
``NoMatch`` naming the type and its parents, and the reasons quote the facts. Schema errors name
the file, the line and the field.
"""

from __future__ import annotations

import copy

import pytest

from plans.errors import NoMatch, PlanInvalid
from plans.library import LIBRARY_DIR, load_dir
from plans.matching import Facts, HazardNear, evaluate, match
from plans.schema import parse_plan
from plans.taxonomy import INCIDENT_TYPES, LEVELS, lineage

PLANS = load_dir()
BY_ID = {p["id"]: p for p in PLANS}
COVERED = {t for p in PLANS for t in p["incident_types"]}
FILES = sorted(LIBRARY_DIR.glob("*.yaml"))

EXAMPLES = [
    pytest.param(p["id"], i, id=f"{p['id']}-{i}") for p in PLANS for i in range(len(p["examples"]))
]
#: Types for which the library holds no plan for the type or any ancestor.
UNCOVERED = sorted(c for c in INCIDENT_TYPES if not any(x in COVERED for x in lineage(c)))
#: Types without a plan of their own whose parent has one.
FALLBACK = sorted(
    c for c in INCIDENT_TYPES if c not in COVERED and INCIDENT_TYPES[c].parent in COVERED
)


# --- the library -----------------------------------------------------------------------------


def test_the_library_is_not_empty_and_load_dir_reads_every_file():
    assert FILES, "no plan in plans/library"
    assert sorted(p["id"] for p in PLANS) == sorted(f.stem for f in FILES)


@pytest.mark.parametrize("path", FILES, ids=[f.name for f in FILES])
def test_every_library_plan_validates(path):
    plan = parse_plan(path.read_text(encoding="utf-8"), source=path.name)
    assert plan["id"] == path.stem
    assert plan["source"] == path.name
    assert plan["incident_types"] and all(t in INCIDENT_TYPES for t in plan["incident_types"])
    levels = [lv["level"] for lv in plan["levels"]]
    assert levels and all(lv in LEVELS for lv in levels)
    # levels are written most severe first
    assert levels == sorted(levels, key=list(LEVELS).index)
    for lv in levels:
        package = plan["response"][lv]
        assert package["forces"] and package["actions"]
        assert all(f["count"] >= 1 for f in package["forces"])


@pytest.mark.parametrize(("plan_id", "index"), EXAMPLES)
def test_every_example_gives_its_level(plan_id, index):
    plan = BY_ID[plan_id]
    ex = plan["examples"][index]
    facts = Facts.from_mapping(ex["facts"], type=plan["incident_types"][0])
    level, reasons = evaluate(plan, facts)
    where = f"{plan['source']}:{ex['line']}"
    assert level == ex["level"], f"{where}: {ex['facts']} gave {level} ({reasons})"
    assert reasons, where
    assert all(r.startswith(f"level {level}:") for r in reasons), reasons


@pytest.mark.parametrize("plan_id", sorted(BY_ID))
def test_every_level_of_every_plan_has_an_example(plan_id):
    plan = BY_ID[plan_id]
    levels = {lv["level"] for lv in plan["levels"]}
    exercised = {ex["level"] for ex in plan["examples"]}
    assert levels <= exercised, f"{plan_id}: no example for level(s) {sorted(levels - exercised)}"


# --- matching: which plan --------------------------------------------------------------------


def test_the_most_specific_type_wins_high_rise_before_general_fire():
    ms = match(Facts(type="accident.fire.high_rise"), PLANS)
    assert [m.plan_id for m in ms[:2]] == ["high-rise-fire", "fire-general"]
    assert (ms[0].covered_by, ms[0].specificity) == ("accident.fire.high_rise", 0)
    assert (ms[1].covered_by, ms[1].specificity) == ("accident.fire", 1)
    assert ms[0].package == BY_ID["high-rise-fire"]["response"][ms[0].level]


def test_specificity_ranks_before_severity():
    """A hazard that only the general fire plan escalates for: still the high-rise plan first."""
    general, high_rise = BY_ID["fire-general"], BY_ID["high-rise-fire"]
    hazard = HazardNear(1, "Sörnäinen tank farm", "major_hazard_source", "moderate", 800.0)
    facts = Facts(type="accident.fire.high_rise", hazards=(hazard,))
    g_level, _ = evaluate(general, facts)
    h_level, _ = evaluate(high_rise, facts)
    assert list(LEVELS).index(g_level) < list(LEVELS).index(h_level), "premise of the test"
    ms = match(facts, PLANS)
    assert [m.plan_id for m in ms[:2]] == ["high-rise-fire", "fire-general"]
    assert [m.level for m in ms[:2]] == [h_level, g_level]


def test_a_type_without_its_own_plan_falls_back_to_its_parents_plan():
    library = [p for p in PLANS if "accident.fire.urban" not in p["incident_types"]]
    ms = match(Facts(type="accident.fire.urban", casualties=12), library)
    best = ms[0]
    assert best.plan_id == "fire-general"
    assert (best.covered_by, best.specificity) == ("accident.fire", 1)
    assert (
        best.level == evaluate(BY_ID["fire-general"], Facts(type="accident.fire", casualties=12))[0]
    )


@pytest.mark.parametrize(
    "code",
    FALLBACK
    or [pytest.param(None, marks=pytest.mark.skip(reason="every library type has its own plan"))],
)
def test_library_types_without_a_plan_fall_back_to_the_parent(code):
    best = match(Facts(type=code), PLANS)[0]
    assert best.specificity == 1
    assert best.covered_by == INCIDENT_TYPES[code].parent


def test_no_plan_for_the_type_or_its_parents_names_them():
    library = [p for p in PLANS if any(t.startswith("accident.fire") for t in p["incident_types"])]
    code = "accident.traffic.road_mass_casualty"
    with pytest.raises(NoMatch) as err:
        match(Facts(type=code, casualties=40), library)
    for c in lineage(code):
        assert c in err.value.message
    assert err.value.field == "type"
    assert err.value.status == 422


@pytest.mark.parametrize(
    "code",
    UNCOVERED
    or [pytest.param(None, marks=pytest.mark.skip(reason="the library covers every type"))],
)
def test_library_types_with_no_plan_give_no_match(code):
    with pytest.raises(NoMatch) as err:
        match(Facts(type=code), PLANS)
    for c in lineage(code):
        assert c in err.value.message
        assert INCIDENT_TYPES[c].name_zh in err.value.message


# --- matching: reasons -----------------------------------------------------------------------


def _rule_no(plan, level, kind):
    """1-based position of the first ``kind`` condition in ``level``'s rule."""
    rule = next(lv for lv in plan["levels"] if lv["level"] == level)
    return next(i for i, c in enumerate(rule["conditions"], start=1) if c["kind"] == kind)


def test_a_near_hazard_reason_gives_distance_name_risk_and_rule():
    plan = BY_ID["high-rise-fire"]
    hazard = HazardNear(7, "Xinhua Chemical", "major_hazard_source", "very_high", 349.6)
    level, reasons = evaluate(plan, Facts(type="accident.fire.high_rise", hazards=(hazard,)))
    assert level == "II"
    n = _rule_no(plan, "II", "near_hazard")
    (reason,) = reasons
    assert "350 m" in reason
    assert "Xinhua Chemical" in reason
    assert "very_high" in reason
    assert reason.startswith("level II:")
    assert reason.endswith(f"rule {n} of level II")


def test_the_nearest_qualifying_hazard_is_quoted():
    plan = BY_ID["high-rise-fire"]
    far = HazardNear(1, "Far Works", "chemical_site", "high", 480.0)
    near = HazardNear(2, "Near Depot", "major_hazard_source", "high", 120.0)
    weak = HazardNear(3, "Weak Site", "major_hazard_source", "low", 10.0)
    _, reasons = evaluate(plan, Facts(type="accident.fire.high_rise", hazards=(far, weak, near)))
    assert any("120 m" in r and "Near Depot" in r for r in reasons), reasons
    assert not any("Weak Site" in r for r in reasons)


def test_every_held_rule_of_the_level_is_a_reason_with_its_numbers():
    plan = BY_ID["high-rise-fire"]
    facts = Facts(type="accident.fire.high_rise", casualties=12, injured=60)
    level, reasons = evaluate(plan, facts)
    assert level == "II"
    c, i = _rule_no(plan, "II", "casualties"), _rule_no(plan, "II", "injured")
    assert len(reasons) == 2
    assert "12" in reasons[0] and reasons[0].endswith(f"rule {c} of level II")
    assert "60" in reasons[1] and reasons[1].endswith(f"rule {i} of level II")


HAND_PLAN = """\
id: hand-made
title: {zh: 手工预案, en: Hand-made plan}
incident_types: [natural.flood]
levels:
  - level: I
    all:
      - casualties: {gte: 5}
      - near_hazard: {types: [chemical_site], within_m: 1000}
  - level: II
    any:
      - injured: {gte: 20}
      - inside_hazard_influence: {types: [flood_prone]}
  - level: III
    any:
      - reported_level: {at_least: III}
response:
  I: &pkg
    forces: [{team_type: water_rescue, count: 1}]
    alert_area: {radius_m: 500}
    actions: [{zh: 出动, en: Turn out, unit: {zh: 水上救援, en: Water rescue}}]
  II: *pkg
  III: *pkg
"""


@pytest.fixture(scope="module")
def hand_plan():
    return parse_plan(HAND_PLAN, source="hand-made.yaml")


def test_an_all_rule_needs_every_condition_and_quotes_each(hand_plan):
    lone = Facts(type="natural.flood", casualties=6)
    assert evaluate(hand_plan, lone)[0] != "I"
    site = HazardNear(3, "Kemira Vuosaari", "chemical_site", "moderate", 640.4)
    level, reasons = evaluate(hand_plan, Facts(type="natural.flood", casualties=6, hazards=(site,)))
    assert level == "I"
    assert len(reasons) == 2
    assert "6" in reasons[0] and reasons[0].endswith("rule 1 of level I")
    assert "640 m" in reasons[1] and "Kemira Vuosaari" in reasons[1]
    assert reasons[1].endswith("rule 2 of level I")


def test_inside_a_hazard_influence_area_is_a_reason_naming_the_hazard(hand_plan):
    spot = HazardNear(4, "Kauppatori", "flood_prone", "high", 1500.0, inside_influence=True)
    level, reasons = evaluate(hand_plan, Facts(type="natural.flood", hazards=(spot,)))
    assert level == "II"
    (reason,) = reasons
    assert "Kauppatori" in reason and "influence" in reason
    assert reason.endswith("rule 2 of level II")


def test_a_reported_level_counts_when_at_least_as_severe(hand_plan):
    level, reasons = evaluate(hand_plan, Facts(type="natural.flood", reported_level="II"))
    assert level == "III"
    assert "II" in reasons[0] and reasons[0].endswith("rule 1 of level III")
    level, _ = evaluate(hand_plan, Facts(type="natural.flood", reported_level="IV"))
    assert level == "III"  # no rule holds: the least severe level applies


def test_without_any_held_rule_the_least_severe_level_applies_and_says_so(hand_plan):
    level, reasons = evaluate(hand_plan, Facts(type="natural.flood"))
    assert level == "III"
    (reason,) = reasons
    assert "least severe" in reason


def test_facts_from_mapping_reads_hazards_and_counts():
    f = Facts.from_mapping(
        {
            "casualties": 3,
            "area_m2": 1200,
            "hazards": [{"type": "gas_station", "name": "Neste", "distance_m": 90}],
        },
        type="accident.fire.urban",
    )
    assert (f.type, f.casualties, f.area_m2) == ("accident.fire.urban", 3, 1200.0)
    (h,) = f.hazards
    assert (h.name, h.type, h.distance_m, h.inside_influence) == (
        "Neste",
        "gas_station",
        90.0,
        False,
    )


# --- schema errors ---------------------------------------------------------------------------

BASE = """\
id: probe
version: 1
title: {zh: 测试, en: Probe}
incident_types: [accident.fire]
levels:
  - level: I
    any:
      - casualties: {gte: 10}
  - level: II
    always: true
response:
  I:
    forces:
      - {team_type: fire, count: 2}
    alert_area: {radius_m: 500}
    actions:
      - {zh: 出动, en: Turn out, unit: {zh: 消防, en: Fire}}
  II:
    forces:
      - team_type: fire
        count: 1
    alert_area: {radius_m: 200}
    actions:
      - {zh: 出动, en: Turn out, unit: {zh: 消防, en: Fire}}
"""


def _line_of(text: str, fragment: str, nth: int = 1) -> int:
    """1-based line of the ``nth`` line containing ``fragment``."""
    hits = [i for i, line in enumerate(text.splitlines(), start=1) if fragment in line]
    return hits[nth - 1]


def test_the_base_document_is_valid():
    plan = parse_plan(BASE, source="probe.yaml")
    assert [lv["level"] for lv in plan["levels"]] == ["I", "II"]
    assert plan["response"]["II"]["forces"] == [
        {"team_type": "fire", "count": 1, "capabilities": [], "max_eta_s": None}
    ]


BROKEN = [
    # name, broken text, fragment on the line at fault (nth hit), field
    (
        "unknown-top-field",
        BASE.replace("version: 1\n", "version: 1\ncolour: red\n"),
        ("colour: red", 1),
        "colour",
    ),
    (
        "unknown-nested-field",
        BASE.replace("{team_type: fire, count: 2}", "{team_type: fire, count: 2, crew: 4}"),
        ("crew: 4", 1),
        "response.I.forces[0].crew",
    ),
    (
        "wrong-level-code",
        BASE.replace("  - level: II\n", "  - level: V\n"),
        ("- level: V", 1),
        "levels[1].level",
    ),
    (
        "unknown-team-type",
        BASE.replace("      - team_type: fire\n", "      - team_type: firefighters\n"),
        ("team_type: firefighters", 1),
        "response.II.forces[0].team_type",
    ),
    (
        "negative-count",
        BASE.replace("        count: 1\n", "        count: -2\n"),
        ("count: -2", 1),
        "response.II.forces[0].count",
    ),
    (
        "zero-count",
        BASE.replace("{team_type: fire, count: 2}", "{team_type: fire, count: 0}"),
        ("count: 0", 1),
        "response.I.forces[0].count",
    ),
    (
        "missing-response-for-a-level",
        BASE.split("  II:\n")[0],
        ("- level: II", 1),
        "levels[1].level",
    ),
    (
        "bad-yaml-syntax",
        BASE.replace("alert_area: {radius_m: 200}", "alert_area: radius_m: 200"),
        ("alert_area: radius_m: 200", 1),
        "file",
    ),
    (
        "duplicate-nested-key",
        BASE.replace("        count: 1\n", "        count: 1\n        count: 3\n"),
        ("count: 3", 1),
        "response.II.forces[0].count",
    ),
    (
        "unknown-hazard-risk",
        BASE.replace(
            "      - casualties: {gte: 10}\n",
            "      - casualties: {gte: 10}\n"
            "      - near_hazard: {risk_at_least: extreme, within_m: 300}\n",
        ),
        ("risk_at_least: extreme", 1),
        "levels[0].any[1].near_hazard.risk_at_least",
    ),
    (
        "example-with-unknown-level",
        BASE + "examples:\n  - {facts: {casualties: 12}, level: 1}\n",
        ("level: 1}", 1),
        "examples[0].level",
    ),
]


@pytest.mark.parametrize(("name", "text", "where", "field"), BROKEN, ids=[b[0] for b in BROKEN])
def test_schema_errors_name_file_line_and_field(name, text, where, field):
    line = _line_of(text, *where)
    with pytest.raises(PlanInvalid) as err:
        parse_plan(text, source=f"{name}.yaml")
    e = err.value
    assert e.message.startswith(f"{name}.yaml:{line}:"), e.message
    assert e.field == field, e.message
    if field != "file":
        assert e.message.startswith(f"{name}.yaml:{line}: {field}:"), e.message
    assert e.status == 422


def test_a_duplicate_top_level_key_names_the_field():
    text = BASE.replace("incident_types:", "title: {zh: 又一个, en: Again}\nincident_types:")
    line = _line_of(text, "title:", 2)
    with pytest.raises(PlanInvalid) as err:
        parse_plan(text, source="duplicate-top-key.yaml")
    assert err.value.message.startswith(f"duplicate-top-key.yaml:{line}:")
    assert err.value.field == "title"


def test_a_missing_required_top_field_is_named():
    text = BASE.replace("title: {zh: 测试, en: Probe}\n", "")
    with pytest.raises(PlanInvalid) as err:
        parse_plan(text, source="no-title.yaml")
    assert err.value.field == "title"
    assert err.value.message.startswith("no-title.yaml:1: title:")


def test_load_dir_refuses_an_id_that_differs_from_the_file_name(tmp_path):
    (tmp_path / "other-name.yaml").write_text(BASE, encoding="utf-8")
    with pytest.raises(PlanInvalid) as err:
        load_dir(tmp_path)
    assert err.value.message.startswith("other-name.yaml:1: id:")
    assert err.value.field == "id"


def test_loaded_plans_are_independent_data():
    """evaluate and match read the plan; they never change it."""
    plan = BY_ID["urban-fire"]
    before = copy.deepcopy(plan)
    match(Facts(type="accident.fire.urban", casualties=40), [plan])
    assert plan == before
