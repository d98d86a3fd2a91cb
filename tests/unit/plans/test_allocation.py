"""plans.allocation on hand-made candidates: the nearest fitting teams by ETA, stock split across
depots nearest first, and a reason for every shortfall. No services."""

from __future__ import annotations

import random

from plans.allocation import Allocation, DepotOption, TeamOption, allocate


def team(
    tid: int,
    eta: float | None,
    *,
    type: str = "fire",
    caps: tuple[str, ...] = (),
    version: int = 1,
    length: float | None = None,
) -> TeamOption:
    if length is None and eta is not None:
        length = eta * 10.0
    return TeamOption(tid, f"{type}-{tid}", type, frozenset(caps), version, eta, length)


def depot(did: int, eta: float | None, stock: dict[str, int], *, version: int = 1) -> DepotOption:
    return DepotOption(
        did, f"depot-{did}", version, eta, None if eta is None else eta * 12.0, stock
    )


def force(team_type: str, count: int, caps: tuple[str, ...] = (), max_eta_s=None) -> dict:
    return {
        "team_type": team_type,
        "count": count,
        "capabilities": list(caps),
        "max_eta_s": max_eta_s,
    }


def package(forces=(), materials=()) -> dict:
    return {"forces": list(forces), "materials": list(materials)}


def ids(a: Allocation, requirement: int | None = None) -> list[int]:
    return [
        f["team_id"] for f in a.forces if requirement is None or f["requirement"] == requirement
    ]


# --- forces ----------------------------------------------------------------------------------


def test_the_nearest_teams_are_chosen_in_eta_order():
    teams = [team(1, 900.0), team(2, 120.0), team(3, 480.0), team(4, 60.0), team(5, 300.0)]
    a = allocate(package([force("fire", 3)]), teams, [])
    assert ids(a) == [4, 2, 5]
    assert [f["eta_s"] for f in a.forces] == [60.0, 120.0, 300.0]
    assert [f["distance_m"] for f in a.forces] == [600.0, 1200.0, 3000.0]
    assert all(f["requirement"] == 0 and f["type"] == "fire" for f in a.forces)
    assert a.shortfalls == []


def test_a_chosen_team_carries_its_name_and_version_for_the_commit():
    a = allocate(package([force("medical", 1)]), [team(8, 200.0, type="medical", version=5)], [])
    (f,) = a.forces
    assert (f["team_id"], f["name"], f["type"], f["version"]) == (8, "medical-8", "medical", 5)


def test_the_answer_does_not_depend_on_the_order_of_the_candidates():
    teams = [team(i, float(eta)) for i, eta in enumerate([300, 300, 100, 200, 300, 50], start=1)]
    pkg = package([force("fire", 4)])
    first = allocate(pkg, teams, [])
    rng = random.Random(7)
    for _ in range(5):
        shuffled = teams[:]
        rng.shuffle(shuffled)
        assert allocate(pkg, shuffled, []).forces == first.forces
    assert ids(first)[:2] == [6, 3]


def test_only_teams_of_the_required_type_are_chosen():
    teams = [
        team(1, 10.0, type="police"),
        team(2, 50.0, type="fire"),
        team(3, 20.0, type="medical"),
    ]
    a = allocate(package([force("fire", 1), force("medical", 1)]), teams, [])
    assert ids(a, 0) == [2]
    assert ids(a, 1) == [3]


def test_capabilities_filter_the_candidates():
    teams = [
        team(1, 60.0, caps=("breathing_apparatus",)),
        team(2, 400.0, caps=("aerial_ladder",)),
        team(3, 300.0, caps=("aerial_ladder", "breathing_apparatus")),
        team(4, 200.0),
    ]
    a = allocate(package([force("fire", 2, ("aerial_ladder",))]), teams, [])
    assert ids(a) == [3, 2]
    assert a.shortfalls == []


def test_every_required_capability_is_needed():
    teams = [team(1, 60.0, caps=("aerial_ladder",)), team(2, 90.0, caps=("foam", "aerial_ladder"))]
    a = allocate(package([force("fire", 2, ("aerial_ladder", "foam"))]), teams, [])
    assert ids(a) == [2]
    (s,) = a.shortfalls
    assert (s["kind"], s["requirement"], s["team_type"], s["missing"]) == ("force", 0, "fire", 1)


def test_no_team_with_the_capability_is_a_shortfall_naming_it():
    teams = [team(1, 60.0, caps=("breathing_apparatus",)), team(2, 90.0)]
    a = allocate(package([force("fire", 1, ("aerial_ladder",))]), teams, [])
    assert a.forces == []
    (s,) = a.shortfalls
    assert s["missing"] == 1
    assert "aerial_ladder" in s["reason"] and "fire" in s["reason"]


def test_max_eta_is_respected_and_the_shortfall_names_the_limit():
    teams = [team(1, 300.0), team(2, 500.0), team(3, 700.0), team(4, 1200.0)]
    a = allocate(package([force("fire", 3, max_eta_s=600)]), teams, [])
    assert ids(a) == [1, 2]
    assert all(f["eta_s"] <= 600 for f in a.forces)
    (s,) = a.shortfalls
    assert (s["team_type"], s["missing"]) == ("fire", 1)
    assert "600" in s["reason"]
    assert "700" in s["reason"]  # the nearest team that is too late


def test_a_team_exactly_at_the_limit_counts():
    a = allocate(package([force("fire", 1, max_eta_s=600)]), [team(1, 600.0)], [])
    assert ids(a) == [1]
    assert a.shortfalls == []


def test_none_of_the_type_is_a_shortfall_naming_the_type():
    teams = [team(1, 60.0, type="fire"), team(2, 60.0, type="medical")]
    a = allocate(package([force("hazmat", 2)]), teams, [])
    assert a.forces == []
    (s,) = a.shortfalls
    assert (s["kind"], s["team_type"], s["missing"]) == ("force", "hazmat", 2)
    assert "hazmat" in s["reason"]


def test_unreachable_teams_are_never_chosen():
    teams = [team(1, None), team(2, 800.0), team(3, None), team(4, 100.0)]
    a = allocate(package([force("fire", 4)]), teams, [])
    assert ids(a) == [4, 2]
    (s,) = a.shortfalls
    assert s["missing"] == 2


def test_when_no_team_can_reach_the_reason_says_so():
    a = allocate(package([force("fire", 1)]), [team(1, None), team(2, None)], [])
    assert a.forces == []
    (s,) = a.shortfalls
    assert s["missing"] == 1
    assert "reach" in s["reason"] and "road" in s["reason"]


def test_a_team_is_never_chosen_twice_across_requirements_of_one_type():
    teams = [
        team(1, 60.0, caps=("breathing_apparatus", "aerial_ladder")),
        team(2, 120.0, caps=("breathing_apparatus", "aerial_ladder")),
        team(3, 180.0, caps=("breathing_apparatus",)),
        team(4, 240.0, caps=("aerial_ladder",)),
        team(5, 300.0, caps=("aerial_ladder",)),
    ]
    pkg = package(
        [force("fire", 2, ("breathing_apparatus",)), force("fire", 2, ("aerial_ladder",))]
    )
    a = allocate(pkg, teams, [])
    chosen = ids(a)
    assert len(chosen) == len(set(chosen)) == 4
    assert ids(a, 0) == [1, 2]
    assert ids(a, 1) == [4, 5]
    assert a.shortfalls == []


def test_a_second_requirement_of_a_type_can_run_short_because_of_the_first():
    teams = [team(1, 60.0), team(2, 120.0), team(3, 180.0)]
    a = allocate(package([force("fire", 2), force("fire", 2)]), teams, [])
    assert ids(a, 0) == [1, 2]
    assert ids(a, 1) == [3]
    (s,) = a.shortfalls
    assert (s["requirement"], s["missing"]) == (1, 1)


# --- materials -------------------------------------------------------------------------------


def test_materials_split_across_depots_nearest_first_until_met():
    depots = [
        depot(3, 300.0, {"BLANKET": 100}),
        depot(1, 100.0, {"BLANKET": 30}),
        depot(2, 200.0, {"BLANKET": 50}),
    ]
    a = allocate(package(materials=[{"item_code": "BLANKET", "quantity": 70}]), [], depots)
    assert [(m["depot_id"], m["quantity"]) for m in a.materials] == [(1, 30), (2, 40)]
    assert sum(m["quantity"] for m in a.materials) == 70
    assert all(m["item_code"] == "BLANKET" and m["requirement"] == 0 for m in a.materials)
    assert [m["eta_s"] for m in a.materials] == [100.0, 200.0]
    assert a.shortfalls == []


def test_one_depot_that_holds_enough_is_enough():
    depots = [depot(1, 100.0, {"TENT-12": 40}), depot(2, 50.0, {"TENT-12": 40})]
    a = allocate(package(materials=[{"item_code": "TENT-12", "quantity": 25}]), [], depots)
    assert [(m["depot_id"], m["quantity"]) for m in a.materials] == [(2, 25)]


def test_depots_without_the_item_or_without_a_road_are_skipped():
    depots = [
        depot(1, 10.0, {"WATER-5L": 500}),
        depot(2, None, {"RATION": 500}),
        depot(3, 20.0, {"RATION": 0}),
        depot(4, 90.0, {"RATION": 60}),
    ]
    a = allocate(package(materials=[{"item_code": "RATION", "quantity": 50}]), [], depots)
    assert [(m["depot_id"], m["quantity"]) for m in a.materials] == [(4, 50)]


def test_short_stock_is_a_shortfall_saying_by_how_much():
    depots = [
        depot(1, 100.0, {"SANDBAG": 120}),
        depot(2, 200.0, {"SANDBAG": 60}),
        depot(3, None, {"SANDBAG": 900}),
    ]
    a = allocate(package(materials=[{"item_code": "SANDBAG", "quantity": 200}]), [], depots)
    assert [(m["depot_id"], m["quantity"]) for m in a.materials] == [(1, 120), (2, 60)]
    (s,) = a.shortfalls
    assert (s["kind"], s["item_code"], s["missing"], s["requirement"]) == (
        "material",
        "SANDBAG",
        20,
        0,
    )
    assert "short by 20" in s["reason"]


def test_no_stock_at_all_is_a_shortfall_of_the_whole_quantity():
    a = allocate(package(materials=[{"item_code": "BOAT-INF", "quantity": 3}]), [], [])
    assert a.materials == []
    (s,) = a.shortfalls
    assert (s["item_code"], s["missing"]) == ("BOAT-INF", 3)
    assert "short by 3" in s["reason"]


def test_each_material_requirement_is_filled_separately():
    depots = [depot(1, 100.0, {"BLANKET": 10, "FIRSTAID": 5}), depot(2, 200.0, {"FIRSTAID": 50})]
    pkg = package(
        materials=[
            {"item_code": "BLANKET", "quantity": 10},
            {"item_code": "FIRSTAID", "quantity": 20},
        ]
    )
    a = allocate(pkg, [], depots)
    assert [
        (m["requirement"], m["depot_id"], m["item_code"], m["quantity"]) for m in a.materials
    ] == [
        (0, 1, "BLANKET", 10),
        (1, 1, "FIRSTAID", 5),
        (1, 2, "FIRSTAID", 15),
    ]


def test_stock_is_never_allocated_twice_across_requirements_of_one_item():
    depots = [depot(1, 100.0, {"FIRSTAID": 60}), depot(2, 200.0, {"FIRSTAID": 30})]
    pkg = package(
        materials=[
            {"item_code": "FIRSTAID", "quantity": 50},
            {"item_code": "FIRSTAID", "quantity": 30},
        ]
    )
    a = allocate(pkg, [], depots)
    taken: dict[int, int] = {}
    for m in a.materials:
        taken[m["depot_id"]] = taken.get(m["depot_id"], 0) + m["quantity"]
    assert taken[1] <= 60 and taken.get(2, 0) <= 30
    assert sum(taken.values()) == 80
    assert a.shortfalls == []


def test_allocate_does_not_change_its_inputs():
    stock = {"BLANKET": 40}
    teams = [team(1, 60.0)]
    pkg = package([force("fire", 1)], [{"item_code": "BLANKET", "quantity": 30}])
    allocate(pkg, teams, [depot(1, 10.0, stock)])
    assert stock == {"BLANKET": 40}
    assert pkg["forces"][0]["count"] == 1
