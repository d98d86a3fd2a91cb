"""plans.taxonomy: incident types after GB/T 35561-2017, their lineage, and the levels I-IV."""

from __future__ import annotations

import re
from itertools import pairwise

import pytest

from gis import enums
from plans.errors import PlansError, UnknownIncidentType
from plans.taxonomy import INCIDENT_TYPES, LEVELS, IncidentType, incident_type, lineage

CJK = re.compile(r"[\u4e00-\u9fff]")

#: The four classes of GB/T 35561-2017 and their class digits.
ROOTS = {"natural": 1, "accident": 2, "public_health": 3, "social_safety": 4}

#: Sub-types the product's plans and dispatch rules are written for: class and a word of the
#: English name (so a code cannot silently come to mean something else).
PRODUCT_TYPES = {
    "accident.fire.urban": ("accident", "urban fire"),
    "accident.fire.high_rise": ("accident", "high-rise"),
    "natural.forest_fire": ("natural", "forest"),
    "accident.hazmat.leak": ("accident", "leak"),
    "accident.gas_explosion": ("accident", "gas explosion"),
    "natural.flood.waterlogging": ("natural", "waterlogging"),
    "natural.geological.landslide": ("natural", "landslide"),
    "natural.earthquake": ("natural", "earthquake"),
    "accident.building_collapse": ("accident", "collapse"),
    "accident.traffic.road_mass_casualty": ("accident", "mass-casualty"),
}

ALL = sorted(INCIDENT_TYPES)
CHILDREN = [c for c in ALL if "." in c]


def test_taxonomy_is_not_empty() -> None:
    assert len(INCIDENT_TYPES) >= len(ROOTS) + len(PRODUCT_TYPES)


@pytest.mark.parametrize("code", ALL)
def test_code_key_matches_type(code: str) -> None:
    t = INCIDENT_TYPES[code]
    assert isinstance(t, IncidentType)
    assert t.code == code


@pytest.mark.parametrize("code", CHILDREN)
def test_every_parent_exists(code: str) -> None:
    parent = INCIDENT_TYPES[code].parent
    assert parent is not None
    assert parent in INCIDENT_TYPES
    assert code.startswith(parent + ".")


@pytest.mark.parametrize(("root", "digit"), sorted(ROOTS.items()))
def test_gbt_roots_exist_with_class_digit(root: str, digit: int) -> None:
    t = INCIDENT_TYPES[root]
    assert t.parent is None
    assert t.root == root
    assert t.gbt == digit


def test_roots_are_exactly_the_four_gbt_classes() -> None:
    assert {c for c, t in INCIDENT_TYPES.items() if t.parent is None} == set(ROOTS)


@pytest.mark.parametrize("code", ALL)
def test_every_type_belongs_to_a_gbt_class(code: str) -> None:
    t = INCIDENT_TYPES[code]
    assert t.root in ROOTS
    assert t.gbt == ROOTS[t.root]


@pytest.mark.parametrize(
    ("code", "root", "word"), [(c, *v) for c, v in sorted(PRODUCT_TYPES.items())]
)
def test_product_sub_types_exist(code: str, root: str, word: str) -> None:
    t = incident_type(code)
    assert t.root == root
    assert t.parent is not None
    assert word in t.name_en.lower()


@pytest.mark.parametrize("code", ALL)
def test_every_type_has_zh_and_en_names(code: str) -> None:
    t = INCIDENT_TYPES[code]
    assert t.name_zh.strip()
    assert t.name_en.strip()
    assert CJK.search(t.name_zh), "name_zh should be Chinese"
    assert not CJK.search(t.name_en), "name_en should be English"


def test_names_are_unique() -> None:
    zh = [t.name_zh for t in INCIDENT_TYPES.values()]
    en = [t.name_en for t in INCIDENT_TYPES.values()]
    assert len(set(zh)) == len(zh)
    assert len(set(en)) == len(en)


def test_types_are_immutable() -> None:
    t = INCIDENT_TYPES["accident.fire"]
    with pytest.raises(AttributeError):
        t.name_en = "Blaze"  # type: ignore[misc]
    with pytest.raises(TypeError):
        INCIDENT_TYPES["accident.fire"] = t  # type: ignore[index]


# --- lineage ------------------------------------------------------------------------------


def test_lineage_of_high_rise_fire() -> None:
    assert lineage("accident.fire.high_rise") == [
        "accident.fire.high_rise",
        "accident.fire",
        "accident",
    ]


def test_lineage_of_a_root_is_itself() -> None:
    assert lineage("natural") == ["natural"]


@pytest.mark.parametrize("code", ALL)
def test_lineage_ends_at_root_and_every_ancestor_is_known(code: str) -> None:
    chain = lineage(code)
    assert chain[0] == code
    assert chain[-1] == INCIDENT_TYPES[code].root
    assert all(c in INCIDENT_TYPES for c in chain)
    for child, parent in pairwise(chain):
        assert INCIDENT_TYPES[child].parent == parent


# --- incident_type ------------------------------------------------------------------------


def test_incident_type_returns_the_type() -> None:
    t = incident_type("accident.fire.high_rise")
    assert t is INCIDENT_TYPES["accident.fire.high_rise"]
    assert t.name_zh == "高层建筑火灾"


def test_unknown_code_suggests_the_full_code() -> None:
    with pytest.raises(UnknownIncidentType) as exc:
        incident_type("high_rise")
    err = exc.value
    assert err.status == 422
    assert err.field == "properties.type"
    assert "did you mean" in err.message
    assert "accident.fire.high_rise" in err.message
    assert "'high_rise'" in err.message


def test_unknown_code_error_names_given_field() -> None:
    with pytest.raises(UnknownIncidentType) as exc:
        incident_type("high_rise", field="type")
    assert exc.value.field == "type"


def test_unknown_code_without_near_match_points_to_the_list() -> None:
    with pytest.raises(UnknownIncidentType) as exc:
        incident_type("volcano")
    assert "did you mean" not in exc.value.message
    assert "incident-types" in exc.value.message


@pytest.mark.parametrize(
    "code", ["", "Accident.Fire", "accident.fire.", None, 5, ["accident"]], ids=repr
)
def test_bad_codes_raise_unknown_incident_type(code: object) -> None:
    with pytest.raises(UnknownIncidentType) as exc:
        incident_type(code)  # type: ignore[arg-type]
    assert exc.value.status == 422


def test_unknown_incident_type_is_a_plans_error_and_a_value_error() -> None:
    assert issubclass(UnknownIncidentType, PlansError)
    assert issubclass(UnknownIncidentType, ValueError)


# --- levels -------------------------------------------------------------------------------


def test_levels_are_i_to_iv_in_order() -> None:
    assert list(LEVELS) == ["I", "II", "III", "IV"]


def test_levels_have_their_gb_names() -> None:
    assert [zh for zh, _ in LEVELS.values()] == ["特别重大", "重大", "较大", "一般"]
    assert all(en.strip() for _, en in LEVELS.values())


def test_levels_match_the_incident_layer_vocabulary() -> None:
    assert dict(LEVELS) == dict(enums.INCIDENT_LEVELS)
