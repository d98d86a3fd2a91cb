"""Allocation, pure: fill a response package's requirements from candidates ranked by road
travel time, and name every shortfall.

Forces: for each requirement, the nearest available teams of the type that have every required
capability and arrive within the maximum ETA. Materials: the stock of the nearest depots, split
across depots until the quantity is met.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class TeamOption:
    id: int
    name: str
    type: str
    capabilities: frozenset[str]
    version: int
    eta_s: float | None  # None: no road route (unreachable or closed)
    length_m: float | None


@dataclass(frozen=True)
class DepotOption:
    id: int
    name: str
    version: int
    eta_s: float | None
    length_m: float | None
    available: Mapping[str, int]  # item code -> on hand minus reserved


@dataclass
class Allocation:
    forces: list[dict[str, Any]] = field(default_factory=list)
    materials: list[dict[str, Any]] = field(default_factory=list)
    shortfalls: list[dict[str, Any]] = field(default_factory=list)


def allocate(
    package: Mapping[str, Any],
    teams: Sequence[TeamOption],
    depots: Sequence[DepotOption],
) -> Allocation:
    """Teams and stock for ``package`` (a plan level's response); candidates in any order."""
    out = Allocation()
    taken: set[int] = set()
    ranked = sorted(teams, key=lambda t: (t.eta_s is None, t.eta_s or 0.0, t.id))
    for req_no, req in enumerate(package.get("forces", ())):
        _fill_force(out, req_no, req, ranked, taken)
    by_eta = sorted(depots, key=lambda d: (d.eta_s is None, d.eta_s or 0.0, d.id))
    used: dict[tuple[int, str], int] = {}  # stock already given to an earlier requirement
    for req_no, req in enumerate(package.get("materials", ())):
        _fill_material(out, req_no, req, by_eta, used)
    return out


def _fill_force(
    out: Allocation,
    req_no: int,
    req: Mapping[str, Any],
    ranked: Sequence[TeamOption],
    taken: set[int],
) -> None:
    kind, need = req["team_type"], int(req["count"])
    caps = frozenset(req.get("capabilities") or ())
    limit = req.get("max_eta_s")
    of_type = [t for t in ranked if t.type == kind and t.id not in taken]
    capable = [t for t in of_type if caps <= t.capabilities]
    reachable = [t for t in capable if t.eta_s is not None]
    in_time = [t for t in reachable if limit is None or t.eta_s <= limit]
    chosen = in_time[:need]
    for t in chosen:
        taken.add(t.id)
        out.forces.append(
            {
                "requirement": req_no,
                "team_id": t.id,
                "name": t.name,
                "type": t.type,
                "version": t.version,
                "eta_s": float(t.eta_s),
                "distance_m": round(float(t.length_m or 0.0), 2),
            }
        )
    short = need - len(chosen)
    if short <= 0:
        return
    if not of_type:
        why = f"no available {kind} team"
    elif not capable:
        why = f"no available {kind} team has {', '.join(sorted(caps))}"
    elif not reachable:
        why = f"no {kind} team can reach the incident by road (closed or unconnected roads)"
    elif len(in_time) < need and limit is not None and len(reachable) > len(in_time):
        nearest_late = reachable[len(in_time)].eta_s
        why = (
            f"only {len(in_time)} {kind} team(s) within {limit:.0f} s (next: {nearest_late:.0f} s)"
        )
    else:
        why = f"only {len(chosen)} available {kind} team(s) fit"
    out.shortfalls.append(
        {"kind": "force", "requirement": req_no, "team_type": kind, "missing": short, "reason": why}
    )


def _fill_material(
    out: Allocation,
    req_no: int,
    req: Mapping[str, Any],
    depots: Sequence[DepotOption],
    used: dict[tuple[int, str], int],
) -> None:
    code, need = req["item_code"], int(req["quantity"])
    left = need
    for d in depots:
        if left <= 0:
            break
        have = int(d.available.get(code, 0)) - used.get((d.id, code), 0)
        if have <= 0 or d.eta_s is None:
            continue
        take = min(have, left)
        left -= take
        used[(d.id, code)] = used.get((d.id, code), 0) + take
        out.materials.append(
            {
                "requirement": req_no,
                "depot_id": d.id,
                "name": d.name,
                "version": d.version,
                "item_code": code,
                "quantity": take,
                "eta_s": float(d.eta_s),
                "distance_m": round(float(d.length_m or 0.0), 2),
            }
        )
    if left > 0:
        total = sum(int(d.available.get(code, 0)) for d in depots if d.eta_s is not None)
        why = f"stock short by {left}: reachable depots hold {total} free, {need} needed here"
        out.shortfalls.append(
            {
                "kind": "material",
                "requirement": req_no,
                "item_code": code,
                "missing": left,
                "reason": why,
            }
        )
