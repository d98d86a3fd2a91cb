"""What the benchmarks share: writing the figures as JSON beside the printed tables."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np


def write_report(path: Path, report: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=1, default=_json_default))


def _json_default(x: Any) -> Any:
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, Path):
        return str(x)
    raise TypeError(type(x).__name__)
