"""The plan library: YAML documents under ``plans/library/``, validated when loaded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from plans.errors import PlanInvalid
from plans.schema import parse_plan

LIBRARY_DIR = Path(__file__).resolve().parent / "library"


def load_dir(directory: Path = LIBRARY_DIR) -> list[dict[str, Any]]:
    """Every plan in ``directory``, validated; ids must be unique and match the file names."""
    plans: list[dict[str, Any]] = []
    seen: dict[str, str] = {}
    for path in sorted(Path(directory).glob("*.yaml")):
        plan = parse_plan(path.read_text(encoding="utf-8"), source=path.name)
        if plan["id"] != path.stem:
            msg = f"{path.name}:1: id: {plan['id']!r} must equal the file name {path.stem!r}"
            raise PlanInvalid(msg, field="id", file=path.name, line=1)
        if plan["id"] in seen:
            msg = f"{path.name}:1: id: {plan['id']!r} is also used by {seen[plan['id']]}"
            raise PlanInvalid(msg, field="id", file=path.name, line=1)
        seen[plan["id"]] = path.name
        plans.append(plan)
    return plans
