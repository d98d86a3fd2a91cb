"""Matching, pure: an incident and its spatial context -> ranked plans with a level and reasons.

A plan covers an incident when one of its incident types is the incident's type or an ancestor
of it; the most specific coverage ranks first ("high-rise fire" before "fire"). Within a plan
the first level whose rule holds is taken (levels are written most severe first), and the
reasons say which facts made it so, e.g. "level II: 650 m from major hazard source Xinhua
Chemical (risk high), rule 2 of level II".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gis import enums
from plans.errors import NoMatch
from plans.taxonomy import INCIDENT_TYPES, LEVELS, incident_type, lineage

LEVEL_ORDER = {lv: i for i, lv in enumerate(LEVELS)}  # I: 0 (most severe) .. IV: 3
RISK_ORDER = {r: i for i, r in enumerate(enums.RISK_LEVELS)}  # low: 0 .. very_high: 3
UNITS = {
    "casualties": "deaths",
    "injured": "injured",
    "affected": "people affected",
    "area_m2": "m²",
    "duration_h": "h",
}


@dataclass(frozen=True)
class HazardNear:
    """A hazard point near the incident, with its distance and whether the incident lies inside
    its influence area."""

    id: int
    name: str
    type: str
    risk_level: str
    distance_m: float
    inside_influence: bool = False


@dataclass(frozen=True)
class Facts:
    """What is known about an incident when it is matched."""

    type: str
    casualties: int = 0
    injured: int = 0
    affected: int = 0
    area_m2: float = 0.0
    duration_h: float = 0.0
    reported_level: str | None = None
    hazards: tuple[HazardNear, ...] = field(default=())

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, type: str) -> Facts:
        hazards = tuple(
            HazardNear(
                id=int(h.get("id", i)),
                name=str(h.get("name", h.get("type", "hazard"))),
                type=str(h["type"]),
                risk_level=str(h.get("risk_level", "moderate")),
                distance_m=float(h.get("distance_m", 0.0)),
                inside_influence=bool(h.get("inside_influence", False)),
            )
            for i, h in enumerate(data.get("hazards", ()))
        )
        return cls(
            type=type,
            casualties=int(data.get("casualties", 0)),
            injured=int(data.get("injured", 0)),
            affected=int(data.get("affected", 0)),
            area_m2=float(data.get("area_m2", 0.0)),
            duration_h=float(data.get("duration_h", 0.0)),
            reported_level=data.get("reported_level"),
            hazards=hazards,
        )


@dataclass(frozen=True)
class Match:
    plan_id: str
    plan_version: int
    title: Mapping[str, str]
    level: str
    reasons: tuple[str, ...]
    covered_by: str  # the incident type code of the plan that covers the incident
    specificity: int  # 0: the incident's own type, 1: its parent, ...
    package: Mapping[str, Any]


def match(facts: Facts, plans: Sequence[Mapping[str, Any]]) -> list[Match]:
    """Ranked matches: most specific coverage first, then the more severe level, then plan id.

    Raises
    ------
    NoMatch
        When no plan covers the type or any of its ancestors; the message names them.
    """
    incident_type(facts.type)
    chain = lineage(facts.type)
    out = []
    for plan in plans:
        spec = next((i for i, code in enumerate(chain) if code in plan["incident_types"]), None)
        if spec is None:
            continue
        level, reasons = evaluate(plan, facts)
        out.append(
            Match(
                plan_id=plan["id"],
                plan_version=int(plan.get("version", 1)),
                title=plan["title"],
                level=level,
                reasons=tuple(reasons),
                covered_by=chain[spec],
                specificity=spec,
                package=plan["response"][level],
            )
        )
    if not out:
        names = ", ".join(f"{c} ({INCIDENT_TYPES[c].name_zh})" for c in chain)
        msg = f"no plan covers {names}; add one to the plan library"
        raise NoMatch(msg, field="type")
    out.sort(key=lambda m: (m.specificity, LEVEL_ORDER[m.level], m.plan_id))
    return out


def evaluate(plan: Mapping[str, Any], facts: Facts) -> tuple[str, list[str]]:
    """The first level of ``plan`` whose rule holds for ``facts``, and why."""
    for rule in plan["levels"]:
        level = rule["level"]
        if rule["mode"] == "always":
            return level, [f"level {level}: no rule of a more severe level holds (default)"]
        results = [_check(c, facts) for c in rule["conditions"]]
        held = [(i, why) for i, (ok, why) in enumerate(results, start=1) if ok]
        if (rule["mode"] == "any" and held) or (
            rule["mode"] == "all" and len(held) == len(results)
        ):
            return level, [f"level {level}: {why}, rule {i} of level {level}" for i, why in held]
    last = plan["levels"][-1]["level"]
    return last, [f"level {last}: no level's rule holds; the least severe level applies"]


def _check(cond: Mapping[str, Any], facts: Facts) -> tuple[bool, str]:
    kind = cond["kind"]
    if kind in UNITS:
        value = getattr(facts, kind)
        return value >= cond["gte"], f"{_fmt(value)} {UNITS[kind]} (>= {_fmt(cond['gte'])})"
    if kind == "reported_level":
        rep = facts.reported_level
        ok = rep is not None and LEVEL_ORDER[rep] <= LEVEL_ORDER[cond["at_least"]]
        return ok, f"reported as level {rep} (at least {cond['at_least']})"
    types = cond.get("types")
    if kind == "near_hazard":
        floor = RISK_ORDER[cond.get("risk_at_least", "low")]
        near = [
            h
            for h in facts.hazards
            if (types is None or h.type in types)
            and RISK_ORDER.get(h.risk_level, 0) >= floor
            and h.distance_m <= cond["within_m"]
        ]
        if not near:
            return False, ""
        h = min(near, key=lambda x: x.distance_m)
        label = enums.HAZARD_TYPES[h.type][1].lower()
        return True, f"{h.distance_m:.0f} m from {label} {h.name} (risk {h.risk_level})"
    inside = [h for h in facts.hazards if h.inside_influence and (types is None or h.type in types)]
    if not inside:
        return False, ""
    h = inside[0]
    return True, f"inside the influence area of {enums.HAZARD_TYPES[h.type][1].lower()} {h.name}"


def _fmt(v: float) -> str:
    return f"{v:g}"
