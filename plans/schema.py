"""The plan document schema, checked on the YAML node tree so that every error names the file,
the line and the field (``urban-fire.yaml:14: levels[1].any[0].casualties.gte: must be ...``).

A plan (应急预案)::

    id: urban-fire                      # lower-case letters, digits, '-'
    version: 3                          # bumped on every edit
    title: {zh: ..., en: ...}
    incident_types: [accident.fire.urban]   # codes of plans.taxonomy; a parent covers children
    levels:                             # most severe first; the first whose rule holds wins
      - level: I
        any:                            # or all: [...]; or always: true
          - casualties: {gte: 10}
          - near_hazard: {types: [major_hazard_source], risk_at_least: high, within_m: 1000}
    response:
      I:
        forces: [{team_type: fire, count: 6, capabilities: [aerial_ladder], max_eta_s: 900}]
        materials: [{item_code: FIRSTAID, quantity: 100}]
        alert_area: {radius_m: 2000}    # or {isochrone_s: 600}
        evacuation: {radius_m: 500}     # or null: no evacuation at this level
        actions: [{zh: ..., en: ..., unit: {zh: ..., en: ...}}]
    examples:                           # facts -> expected level; the tests run every one
      - {facts: {casualties: 12}, level: I}

Conditions: ``casualties``, ``injured``, ``affected``, ``area_m2``, ``duration_h`` with ``gte``;
``reported_level`` with ``at_least``; ``near_hazard`` (types, risk_at_least, within_m);
``inside_hazard_influence`` (optional types).
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from gis import enums
from plans.errors import PlanInvalid
from plans.taxonomy import INCIDENT_TYPES, LEVELS

ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,63}$")
COUNT_FACTS = ("casualties", "injured", "affected", "area_m2", "duration_h")
CONDITIONS = (*COUNT_FACTS, "reported_level", "near_hazard", "inside_hazard_influence")


class _Doc:
    """Walks a YAML node tree with its file name, turning problems into :class:`PlanInvalid`."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, node: Node, path: str, problem: str) -> PlanInvalid:
        line = node.start_mark.line + 1
        msg = f"{self.source}:{line}: {path}: {problem}"
        return PlanInvalid(msg, field=path, file=self.source, line=line)

    def mapping(self, node: Node, path: str, *, keys: dict[str, bool]) -> dict[str, Node]:
        """Children of a mapping; ``keys`` maps each allowed key to whether it is required."""
        if not isinstance(node, MappingNode):
            raise self.fail(node, path, "must be a mapping")
        out: dict[str, Node] = {}
        for k, v in node.value:
            key = k.value if isinstance(k, ScalarNode) else None
            if key not in keys:
                raise self.fail(
                    k,
                    f"{path}.{key}" if path else str(key),
                    f"unknown field; known: {', '.join(keys)}",
                )
            if key in out:
                raise self.fail(k, f"{path}.{key}" if path else key, "appears twice")
            out[key] = v
        for key, required in keys.items():
            if required and key not in out:
                raise self.fail(node, f"{path}.{key}" if path else key, "is required")
        return out

    def seq(self, node: Node, path: str, *, min_len: int = 0) -> list[Node]:
        if not isinstance(node, SequenceNode):
            raise self.fail(node, path, "must be a list")
        if len(node.value) < min_len:
            raise self.fail(node, path, f"needs at least {min_len} item(s)")
        return list(node.value)

    def scalar(self, node: Node, path: str) -> Any:
        if not isinstance(node, ScalarNode):
            raise self.fail(node, path, "must be a single value")
        return yaml.safe_load(yaml.serialize(node))

    def text(self, node: Node, path: str) -> str:
        value = self.scalar(node, path)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(node, path, "must be non-empty text")
        return value.strip()

    def number(self, node: Node, path: str, *, minimum: float = 0, integer: bool = False) -> float:
        value = self.scalar(node, path)
        ok = isinstance(value, int) if integer else isinstance(value, int | float)
        if isinstance(value, bool) or not ok or value < minimum:
            kind = "a whole number" if integer else "a number"
            raise self.fail(node, path, f"must be {kind} >= {minimum}")
        return value

    def choice(self, node: Node, path: str, choices: Any) -> str:
        value = self.scalar(node, path)
        if value not in choices:
            raise self.fail(
                node, path, f"unknown value {value!r}; allowed: {', '.join(map(str, choices))}"
            )
        return value

    def names(self, node: Node, path: str) -> dict[str, str]:
        m = self.mapping(node, path, keys={"zh": True, "en": True})
        return {k: self.text(v, f"{path}.{k}") for k, v in m.items()}


def parse_plan(text: str, *, source: str) -> dict[str, Any]:
    """Validate one plan document and return it as plain data.

    Raises
    ------
    PlanInvalid
        Naming the file, the line and the field of the first problem.
    """
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = mark.line + 1 if mark else 0
        msg = f"{source}:{line}: not valid YAML: {getattr(err, 'problem', err)}"
        raise PlanInvalid(msg, field="file", file=source, line=line) from err
    if root is None:
        raise PlanInvalid(f"{source}:1: the document is empty", field="file", file=source, line=1)
    d = _Doc(source)
    top = d.mapping(
        root,
        "",
        keys={
            "id": True,
            "version": False,
            "title": True,
            "description": False,
            "incident_types": True,
            "levels": True,
            "response": True,
            "examples": False,
        },
    )
    plan_id = d.text(top["id"], "id")
    if not ID_RE.match(plan_id):
        raise d.fail(top["id"], "id", "must be lower-case letters, digits and '-'")
    types = [
        d.choice(n, f"incident_types[{i}]", INCIDENT_TYPES)
        for i, n in enumerate(d.seq(top["incident_types"], "incident_types", min_len=1))
    ]
    levels = [
        _level(d, n, f"levels[{i}]")
        for i, n in enumerate(d.seq(top["levels"], "levels", min_len=1))
    ]
    response = _response(d, top["response"], "response")
    for i, lv in enumerate(levels):
        if lv["level"] not in response:
            raise d.fail(
                top["levels"].value[i], f"levels[{i}].level", f"level {lv['level']} has no response"
            )
    examples = []
    if "examples" in top:
        for i, n in enumerate(d.seq(top["examples"], "examples")):
            ex = d.mapping(n, f"examples[{i}]", keys={"facts": True, "level": True})
            facts = (
                d.scalar(ex["facts"], f"examples[{i}].facts")
                if isinstance(ex["facts"], ScalarNode)
                else yaml.safe_load(yaml.serialize(ex["facts"]))
            )
            examples.append(
                {
                    "facts": facts,
                    "level": d.choice(ex["level"], f"examples[{i}].level", LEVELS),
                    "line": n.start_mark.line + 1,
                }
            )
    return {
        "id": plan_id,
        "version": int(d.number(top["version"], "version", minimum=1, integer=True))
        if "version" in top
        else 1,
        "title": d.names(top["title"], "title"),
        "description": d.names(top["description"], "description") if "description" in top else None,
        "incident_types": types,
        "levels": levels,
        "response": response,
        "examples": examples,
        "source": source,
    }


def _level(d: _Doc, node: Node, path: str) -> dict[str, Any]:
    m = d.mapping(node, path, keys={"level": True, "any": False, "all": False, "always": False})
    level = d.choice(m["level"], f"{path}.level", LEVELS)
    modes = [k for k in ("any", "all", "always") if k in m]
    if len(modes) != 1:
        raise d.fail(node, path, "needs exactly one of any, all, always")
    mode = modes[0]
    if mode == "always":
        if d.scalar(m["always"], f"{path}.always") is not True:
            raise d.fail(m["always"], f"{path}.always", "must be true")
        return {
            "level": level,
            "mode": "always",
            "conditions": [],
            "line": node.start_mark.line + 1,
        }
    conds = [
        _condition(d, n, f"{path}.{mode}[{i}]")
        for i, n in enumerate(d.seq(m[mode], f"{path}.{mode}", min_len=1))
    ]
    return {"level": level, "mode": mode, "conditions": conds, "line": node.start_mark.line + 1}


def _condition(d: _Doc, node: Node, path: str) -> dict[str, Any]:
    m = d.mapping(node, path, keys=dict.fromkeys(CONDITIONS, False))
    if len(m) != 1:
        raise d.fail(node, path, f"one condition per item, one of: {', '.join(CONDITIONS)}")
    ((name, value),) = m.items()
    p = f"{path}.{name}"
    if name in COUNT_FACTS:
        v = d.mapping(value, p, keys={"gte": True})
        return {"kind": name, "gte": d.number(v["gte"], f"{p}.gte")}
    if name == "reported_level":
        v = d.mapping(value, p, keys={"at_least": True})
        return {"kind": name, "at_least": d.choice(v["at_least"], f"{p}.at_least", LEVELS)}
    if name == "near_hazard":
        v = d.mapping(value, p, keys={"types": False, "risk_at_least": False, "within_m": True})
        return {
            "kind": name,
            "types": _hazard_types(d, v.get("types"), f"{p}.types"),
            "risk_at_least": d.choice(v["risk_at_least"], f"{p}.risk_at_least", enums.RISK_LEVELS)
            if "risk_at_least" in v
            else "low",
            "within_m": d.number(v["within_m"], f"{p}.within_m", minimum=1),
        }
    v = d.mapping(value, p, keys={"types": False}) if isinstance(value, MappingNode) else {}
    if not isinstance(value, MappingNode) and d.scalar(value, p) is not True:
        raise d.fail(value, p, "must be true or {types: [...]}")
    return {"kind": name, "types": _hazard_types(d, v.get("types"), f"{p}.types")}


def _hazard_types(d: _Doc, node: Node | None, path: str) -> list[str] | None:
    if node is None:
        return None
    return [
        d.choice(n, f"{path}[{i}]", enums.HAZARD_TYPES)
        for i, n in enumerate(d.seq(node, path, min_len=1))
    ]


def _response(d: _Doc, node: Node, path: str) -> dict[str, Any]:
    m = d.mapping(node, path, keys=dict.fromkeys(LEVELS, False))
    if not m:
        raise d.fail(node, path, "needs a response for at least one level")
    return {lv: _package(d, n, f"{path}.{lv}") for lv, n in m.items()}


def _package(d: _Doc, node: Node, path: str) -> dict[str, Any]:
    m = d.mapping(
        node,
        path,
        keys={
            "forces": True,
            "materials": False,
            "alert_area": True,
            "evacuation": False,
            "actions": True,
        },
    )
    forces = []
    for i, n in enumerate(d.seq(m["forces"], f"{path}.forces", min_len=1)):
        p = f"{path}.forces[{i}]"
        f = d.mapping(
            n, p, keys={"team_type": True, "count": True, "capabilities": False, "max_eta_s": False}
        )
        forces.append(
            {
                "team_type": d.choice(f["team_type"], f"{p}.team_type", enums.TEAM_TYPES),
                "count": int(d.number(f["count"], f"{p}.count", minimum=1, integer=True)),
                "capabilities": [
                    d.text(c, f"{p}.capabilities[{j}]")
                    for j, c in enumerate(d.seq(f["capabilities"], f"{p}.capabilities"))
                ]
                if "capabilities" in f
                else [],
                "max_eta_s": d.number(f["max_eta_s"], f"{p}.max_eta_s", minimum=1)
                if "max_eta_s" in f
                else None,
            }
        )
    materials = []
    for i, n in enumerate(d.seq(m["materials"], f"{path}.materials") if "materials" in m else []):
        p = f"{path}.materials[{i}]"
        f = d.mapping(n, p, keys={"item_code": True, "quantity": True})
        materials.append(
            {
                "item_code": d.text(f["item_code"], f"{p}.item_code"),
                "quantity": int(d.number(f["quantity"], f"{p}.quantity", minimum=1, integer=True)),
            }
        )
    actions = []
    for i, n in enumerate(d.seq(m["actions"], f"{path}.actions", min_len=1)):
        p = f"{path}.actions[{i}]"
        f = d.mapping(n, p, keys={"zh": True, "en": True, "unit": True})
        actions.append(
            {
                "zh": d.text(f["zh"], f"{p}.zh"),
                "en": d.text(f["en"], f"{p}.en"),
                "unit": d.names(f["unit"], f"{p}.unit"),
            }
        )
    return {
        "forces": forces,
        "materials": materials,
        "alert_area": _area_rule(d, m["alert_area"], f"{path}.alert_area"),
        "evacuation": _area_rule(d, m["evacuation"], f"{path}.evacuation")
        if "evacuation" in m and not _is_null(m["evacuation"])
        else None,
        "actions": actions,
    }


def _is_null(node: Node) -> bool:
    return isinstance(node, ScalarNode) and node.tag.endswith(":null")


def _area_rule(d: _Doc, node: Node, path: str) -> dict[str, Any]:
    m = d.mapping(node, path, keys={"radius_m": False, "isochrone_s": False})
    if len(m) != 1:
        raise d.fail(node, path, "needs exactly one of radius_m, isochrone_s")
    ((key, v),) = m.items()
    return {key: d.number(v, f"{path}.{key}", minimum=1)}
