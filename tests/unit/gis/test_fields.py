"""gis.fields: what each layer's features may carry, and the errors that name the field at fault."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import product
from typing import Any

import pytest

from gis import enums
from gis.errors import GisError, InvalidInput, InvalidTransition
from gis.fields import LAYERS, MAX_TEXT, READ_ONLY, Field, LayerSpec, check_row, clean_properties

DEPOTS, SHELTERS, TEAMS, HAZARDS = (LAYERS[k] for k in ("depots", "shelters", "teams", "hazards"))


def _sample(f: Field) -> Any:
    """A valid value of a required field (built from the spec, so new layers are covered)."""
    if f.kind == "text":
        return "人民广场避难场所"
    if f.kind == "int":
        return max(f.minimum or 0, 1)
    if f.kind == "choice":
        return f.choices[0]
    msg = f"no sample value for a required {f.kind} field {f.name}"
    raise AssertionError(msg)


def minimal(spec: LayerSpec) -> dict[str, Any]:
    """The smallest valid properties of a create for ``spec``."""
    return {f.name: _sample(f) for f in spec.fields if f.required}


def _raises(spec: LayerSpec, props: object, *, partial: bool = False) -> InvalidInput:
    with pytest.raises(InvalidInput) as exc:
        clean_properties(spec, props, partial=partial)
    return exc.value


REQUIRED = [(k, f.name) for k, s in LAYERS.items() for f in s.fields if f.required]
CHOICE_FIELDS = [(k, f.name) for k, s in LAYERS.items() for f in s.fields if f.kind == "choice"]


# --- the layers ---------------------------------------------------------------------------


def test_layers_require_what_the_product_needs() -> None:
    def required(kind: str) -> set[str]:
        return {f.name for f in LAYERS[kind].fields if f.required}

    assert {"name", "capacity"} <= required("shelters")
    assert {"name", "type"} <= required("teams")
    assert {"name", "type"} <= required("hazards")
    assert "name" in required("depots")
    assert "type" in required("incidents")


@pytest.mark.parametrize("kind", list(LAYERS))
def test_minimal_properties_are_accepted(kind: str) -> None:
    props = minimal(LAYERS[kind])
    assert clean_properties(LAYERS[kind], props) == props


def test_clean_properties_returns_cleaned_values() -> None:
    out = clean_properties(
        SHELTERS,
        {
            "name": "  人民广场避难场所 ",
            "capacity": 1200,
            "occupancy": 35,
            "status": "open",
            "shelter_type": "park",
            "facilities": ["water", "toilets", "water"],
            "demo": False,
        },
    )
    assert out == {
        "name": "人民广场避难场所",
        "capacity": 1200,
        "occupancy": 35,
        "status": "open",
        "shelter_type": "park",
        "facilities": ["water", "toilets"],
        "demo": False,
    }


@pytest.mark.parametrize("props", [None, [], "name=A", 3], ids=repr)
def test_properties_must_be_an_object(props: object) -> None:
    assert _raises(SHELTERS, props).field == "properties"


# --- required and unknown fields ----------------------------------------------------------


@pytest.mark.parametrize(("kind", "name"), REQUIRED, ids=[f"{k}.{n}" for k, n in REQUIRED])
def test_missing_required_field_is_named(kind: str, name: str) -> None:
    spec = LAYERS[kind]
    props = minimal(spec)
    del props[name]
    err = _raises(spec, props)
    assert err.field == f"properties.{name}"
    assert "required" in err.message
    assert err.status == 422


@pytest.mark.parametrize("kind", list(LAYERS))
def test_unknown_field_is_named_and_known_ones_listed(kind: str) -> None:
    spec = LAYERS[kind]
    err = _raises(spec, {**minimal(spec), "colour": "red"})
    assert err.field == "properties.colour"
    assert "'colour'" in err.message
    for f in spec.fields:
        assert f.name in err.message


def test_error_field_uses_given_prefix() -> None:
    with pytest.raises(InvalidInput) as exc:
        clean_properties(SHELTERS, {"name": "A", "capacity": -1}, prefix="features[2].properties")
    assert exc.value.field == "features[2].properties.capacity"


@pytest.mark.parametrize("key", sorted(READ_ONLY))
def test_read_only_keys_are_ignored(key: str) -> None:
    out = clean_properties(SHELTERS, {**minimal(SHELTERS), key: "whatever"})
    assert key not in out
    assert out == minimal(SHELTERS)


# --- choices ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "name"), CHOICE_FIELDS, ids=[f"{k}.{n}" for k, n in CHOICE_FIELDS]
)
def test_unknown_enum_value_lists_allowed_values(kind: str, name: str) -> None:
    spec = LAYERS[kind]
    err = _raises(spec, {**minimal(spec), name: "no_such_value"})
    assert err.field == f"properties.{name}"
    assert "'no_such_value'" in err.message
    for choice in spec.by_name[name].choices:
        assert choice in err.message


@pytest.mark.parametrize(
    ("kind", "name"), CHOICE_FIELDS, ids=[f"{k}.{n}" for k, n in CHOICE_FIELDS]
)
def test_every_allowed_enum_value_is_accepted(kind: str, name: str) -> None:
    spec = LAYERS[kind]
    for choice in spec.by_name[name].choices:
        assert clean_properties(spec, {**minimal(spec), name: choice})[name] == choice


def test_team_status_choices_are_the_state_machine_states() -> None:
    assert set(TEAMS.by_name["status"].choices) == set(enums.TEAM_STATUSES)


@pytest.mark.parametrize("value", [5, ["open"], True], ids=repr)
def test_non_string_enum_value_is_refused(value: object) -> None:
    err = _raises(SHELTERS, {**minimal(SHELTERS), "status": value})
    assert err.field == "properties.status"


def test_unknown_value_in_a_list_of_choices_is_named_by_index() -> None:
    err = _raises(SHELTERS, {**minimal(SHELTERS), "facilities": ["water", "jacuzzi"]})
    assert err.field == "properties.facilities[1]"
    for choice in enums.SHELTER_FACILITIES:
        assert choice in err.message


@pytest.mark.parametrize("value", ["water", {"water": True}], ids=repr)
def test_list_of_choices_must_be_a_list(value: object) -> None:
    err = _raises(SHELTERS, {**minimal(SHELTERS), "facilities": value})
    assert err.field == "properties.facilities"


def test_tags_must_be_strings() -> None:
    err = _raises(TEAMS, {**minimal(TEAMS), "capabilities": ["foam", 5]})
    assert err.field == "properties.capabilities[1]"


def test_tags_are_free_strings_deduplicated() -> None:
    out = clean_properties(TEAMS, {**minimal(TEAMS), "capabilities": ["foam", " foam ", "ladder"]})
    assert out["capabilities"] == ["foam", "ladder"]


# --- numbers ------------------------------------------------------------------------------


def test_negative_capacity_is_refused() -> None:
    err = _raises(SHELTERS, {"name": "A", "capacity": -1})
    assert err.field == "properties.capacity"
    assert ">= 0" in err.message


def test_zero_capacity_is_accepted() -> None:
    assert clean_properties(SHELTERS, {"name": "A", "capacity": 0})["capacity"] == 0


def test_whole_float_is_accepted_as_int() -> None:
    out = clean_properties(SHELTERS, {"name": "A", "capacity": 3.0})
    assert out["capacity"] == 3
    assert type(out["capacity"]) is int


@pytest.mark.parametrize(
    "value",
    [3.5, True, False, "3", float("nan"), float("inf"), [3], None],
    ids=repr,
)
def test_non_whole_numbers_are_refused_for_int(value: object) -> None:
    err = _raises(SHELTERS, {"name": "A", "capacity": value})
    assert err.field == "properties.capacity"


def test_int_maximum_is_enforced() -> None:
    assert clean_properties(TEAMS, {**minimal(TEAMS), "headcount": 10000})["headcount"] == 10000
    err = _raises(TEAMS, {**minimal(TEAMS), "headcount": 10001})
    assert err.field == "properties.headcount"
    assert "<= 10000" in err.message


def test_huge_int_is_refused() -> None:
    err = _raises(SHELTERS, {"name": "A", "capacity": 2**63})
    assert err.field == "properties.capacity"


# --- text and bool ------------------------------------------------------------------------


@pytest.mark.parametrize("value", [5, ["A"], {"zh": "A"}, True], ids=repr)
def test_text_must_be_a_string(value: object) -> None:
    err = _raises(SHELTERS, {"name": value, "capacity": 1})
    assert err.field == "properties.name"


def test_text_longer_than_limit_is_refused() -> None:
    clean_properties(SHELTERS, {"name": "A", "capacity": 1, "notes": "x" * MAX_TEXT})
    err = _raises(SHELTERS, {"name": "A", "capacity": 1, "notes": "x" * (MAX_TEXT + 1)})
    assert err.field == "properties.notes"


@pytest.mark.parametrize("value", ["true", 1, 0, "是"], ids=repr)
def test_bool_must_be_true_or_false(value: object) -> None:
    err = _raises(SHELTERS, {**minimal(SHELTERS), "demo": value})
    assert err.field == "properties.demo"


def test_object_field_must_be_an_object() -> None:
    monitoring = {"sensor": "rain gauge", "unit": "mm/h", "warn": 30, "alarm": 50}
    out = clean_properties(HAZARDS, {**minimal(HAZARDS), "monitoring": monitoring})
    assert out["monitoring"] == monitoring
    err = _raises(HAZARDS, {**minimal(HAZARDS), "monitoring": "rain gauge"})
    assert err.field == "properties.monitoring"


# --- datetimes ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["2026-11-25T00:30:00Z", "2026-11-25T08:30:00+08:00", "2026-11-24T19:30:00-05:00"],
)
def test_datetime_with_offset_is_converted_to_utc(value: str) -> None:
    out = clean_properties(TEAMS, {**minimal(TEAMS), "position_reported_at": value})
    dt = out["position_reported_at"]
    assert dt == datetime(2026, 11, 25, 0, 30, tzinfo=UTC)
    assert dt.utcoffset().total_seconds() == 0


def test_datetime_without_offset_is_refused() -> None:
    err = _raises(TEAMS, {**minimal(TEAMS), "position_reported_at": "2026-11-25T08:30:00"})
    assert err.field == "properties.position_reported_at"
    assert "offset" in err.message


@pytest.mark.parametrize(
    "value", ["yesterday", "2026-13-45T00:00:00Z", "", 1764030600, ["2026-11-25"]], ids=repr
)
def test_bad_datetime_is_refused(value: object) -> None:
    incidents = LAYERS["incidents"]
    err = _raises(incidents, {**minimal(incidents), "reported_at": value})
    assert err.field == "properties.reported_at"


# --- partial updates and null -------------------------------------------------------------


@pytest.mark.parametrize("kind", list(LAYERS))
def test_partial_update_may_leave_out_required_fields(kind: str) -> None:
    assert clean_properties(LAYERS[kind], {}, partial=True) == {}


@pytest.mark.parametrize(
    ("props", "field"),
    [
        ({"capacity": -1}, "properties.capacity"),
        ({"status": "sunk"}, "properties.status"),
        ({"colour": "red"}, "properties.colour"),
        ({"capacity": 3.5}, "properties.capacity"),
    ],
    ids=["negative", "enum", "unknown", "fraction"],
)
def test_partial_update_still_refuses_bad_values(props: dict, field: str) -> None:
    assert _raises(SHELTERS, props, partial=True).field == field


@pytest.mark.parametrize("name", ["notes", "occupancy", "status", "facilities"])
def test_null_clears_optional_field(name: str) -> None:
    out = clean_properties(SHELTERS, {name: None}, partial=True)
    assert name in out
    assert out[name] is None


@pytest.mark.parametrize("partial", [False, True])
@pytest.mark.parametrize("name", ["name", "capacity"])
def test_null_cannot_clear_required_field(name: str, partial: bool) -> None:
    err = _raises(SHELTERS, {**minimal(SHELTERS), name: None}, partial=partial)
    assert err.field == f"properties.{name}"


# --- depot stock lines --------------------------------------------------------------------


def _stock(*lines: dict) -> dict:
    return {"name": "市级物资储备库", "stock": list(lines)}


def test_good_stock_lines_are_accepted_with_reserved_defaulting_to_zero() -> None:
    out = clean_properties(
        DEPOTS,
        _stock(
            {"item_code": "tent", "name_zh": "帐篷", "unit": "顶", "on_hand": 120, "reserved": 20},
            {"item_code": "water", "on_hand": 5000},
            {"item_code": "blanket", "on_hand": 10, "reserved": 10},
        ),
    )
    assert out["stock"] == [
        {"item_code": "tent", "name_zh": "帐篷", "unit": "顶", "on_hand": 120, "reserved": 20},
        {"item_code": "water", "on_hand": 5000, "reserved": 0},
        {"item_code": "blanket", "on_hand": 10, "reserved": 10},
    ]


@pytest.mark.parametrize(
    ("lines", "field"),
    [
        (
            [{"item_code": "tent", "on_hand": 1}, {"item_code": "tent", "on_hand": 2}],
            "properties.stock[1].item_code",
        ),
        ([{"item_code": "tent", "on_hand": -1}], "properties.stock[0].on_hand"),
        (
            [
                {"item_code": "tent", "on_hand": 1},
                {"item_code": "water", "on_hand": 5, "reserved": 6},
            ],
            "properties.stock[1].reserved",
        ),
        ([{"item_code": "tent", "on_hand": 5, "reserved": -1}], "properties.stock[0].reserved"),
        ([{"name_zh": "帐篷", "on_hand": 1}], "properties.stock[0].item_code"),
        ([{"item_code": "  ", "on_hand": 1}], "properties.stock[0].item_code"),
        ([{"item_code": "tent"}], "properties.stock[0].on_hand"),
        ([{"item_code": "tent", "on_hand": None}], "properties.stock[0].on_hand"),
        ([{"item_code": "tent", "on_hand": 1.5}], "properties.stock[0].on_hand"),
        ([{"item_code": "tent", "on_hand": 1, "colour": "red"}], "properties.stock[0].colour"),
        (["tent"], "properties.stock[0]"),
    ],
    ids=[
        "duplicate-item",
        "negative-on-hand",
        "reserved-over-on-hand",
        "negative-reserved",
        "missing-item-code",
        "blank-item-code",
        "missing-on-hand",
        "null-on-hand",
        "fractional-on-hand",
        "unknown-key",
        "not-an-object",
    ],
)
def test_bad_stock_line_is_named_by_index_and_field(lines: list, field: str) -> None:
    err = _raises(DEPOTS, _stock(*lines))
    assert err.field == field


def test_stock_must_be_a_list() -> None:
    err = _raises(DEPOTS, {"name": "A", "stock": {"tent": 1}})
    assert err.field == "properties.stock"


def test_duplicate_item_message_names_the_item() -> None:
    err = _raises(
        DEPOTS, _stock({"item_code": "tent", "on_hand": 1}, {"item_code": "tent", "on_hand": 1})
    )
    assert "'tent'" in err.message


# --- check_row: shelters ------------------------------------------------------------------


def test_shelter_occupancy_over_capacity_is_refused() -> None:
    with pytest.raises(InvalidInput) as exc:
        check_row("shelters", {"capacity": 100, "occupancy": 101}, before=None)
    assert exc.value.field == "properties.occupancy"
    assert "101" in exc.value.message
    assert "100" in exc.value.message


@pytest.mark.parametrize(
    "values",
    [
        {"capacity": 100, "occupancy": 100},
        {"capacity": 100, "occupancy": 0},
        {"capacity": 100, "occupancy": None},
        {"capacity": 100},
    ],
    ids=["full", "empty", "null-occupancy", "no-occupancy"],
)
def test_shelter_occupancy_up_to_capacity_is_accepted(values: dict) -> None:
    check_row("shelters", values, before=None)


def test_shelter_check_applies_to_merged_update() -> None:
    before = {"capacity": 100, "occupancy": 50}
    with pytest.raises(InvalidInput):
        check_row("shelters", {**before, "capacity": 40}, before=before)


# --- check_row: team status machine -------------------------------------------------------

ALLOWED = sorted((old, new) for old, targets in enums.TEAM_TRANSITIONS.items() for new in targets)
DISALLOWED = sorted(
    (old, new)
    for old, new in product(enums.TEAM_STATUSES, repeat=2)
    if old != new and new not in enums.TEAM_TRANSITIONS.get(old, ())
)


def test_transition_table_covers_every_status() -> None:
    assert set(enums.TEAM_TRANSITIONS) == set(enums.TEAM_STATUSES)
    for targets in enums.TEAM_TRANSITIONS.values():
        assert targets <= set(enums.TEAM_STATUSES)


@pytest.mark.parametrize(
    ("old", "new"),
    [("available", "dispatched"), ("out_of_service", "available"), ("on_scene", "returning")],
)
def test_named_team_transitions_are_allowed(old: str, new: str) -> None:
    check_row("teams", {"status": new}, before={"status": old})


@pytest.mark.parametrize(("old", "new"), ALLOWED, ids=[f"{o}->{n}" for o, n in ALLOWED])
def test_every_allowed_team_transition_is_accepted(old: str, new: str) -> None:
    check_row("teams", {"status": new}, before={"status": old})


def test_available_to_on_scene_is_an_invalid_transition() -> None:
    with pytest.raises(InvalidTransition) as exc:
        check_row("teams", {"status": "on_scene"}, before={"status": "available"})
    err = exc.value
    assert isinstance(err, GisError)
    assert err.status == 409
    assert err.field == "properties.status"
    assert "available" in err.message
    assert "on_scene" in err.message
    assert "dispatched" in err.message  # where it can go instead


@pytest.mark.parametrize(("old", "new"), DISALLOWED, ids=[f"{o}->{n}" for o, n in DISALLOWED])
def test_every_disallowed_team_transition_is_refused(old: str, new: str) -> None:
    with pytest.raises(InvalidTransition) as exc:
        check_row("teams", {"status": new}, before={"status": old})
    assert exc.value.status == 409
    assert exc.value.field == "properties.status"


def test_disallowed_sample_includes_the_product_cases() -> None:
    for pair in [
        ("available", "on_scene"),
        ("available", "en_route"),
        ("out_of_service", "dispatched"),
        ("on_scene", "dispatched"),
    ]:
        assert pair in DISALLOWED


@pytest.mark.parametrize(
    ("values", "before"),
    [
        ({"status": "on_scene"}, {"status": "on_scene"}),
        ({"status": "on_scene"}, None),
        ({"status": None}, {"status": "available"}),
        ({"name": "Engine 3"}, {"status": "available"}),
    ],
    ids=["unchanged", "create", "status-not-given", "other-field"],
)
def test_no_status_change_needs_no_transition(values: dict, before: dict | None) -> None:
    check_row("teams", values, before=before)
