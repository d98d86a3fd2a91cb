"""Incident types after GB/T 35561-2017 (突发事件分类与编码) and the four levels I-IV.

The standard's four classes are the roots: 自然灾害 natural disasters, 事故灾难 accidents,
公共卫生事件 public health events, 社会安全事件 social safety events. Codes here are dotted
paths (``accident.fire.high_rise``) so that a type's parent is its prefix: plan matching tries
the most specific type first, then its parent. ``gbt`` gives the class digit of the standard.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

from plans.errors import UnknownIncidentType


@dataclass(frozen=True)
class IncidentType:
    code: str
    name_zh: str
    name_en: str

    @property
    def parent(self) -> str | None:
        return self.code.rsplit(".", 1)[0] if "." in self.code else None

    @property
    def root(self) -> str:
        return self.code.split(".", 1)[0]

    @property
    def gbt(self) -> int:
        """The GB/T 35561-2017 class digit (1 natural ... 4 social safety)."""
        return CLASS_DIGITS[self.root]


CLASS_DIGITS = MappingProxyType(
    {"natural": 1, "accident": 2, "public_health": 3, "social_safety": 4}
)

_TYPES = (
    ("natural", "自然灾害", "Natural disaster"),
    ("natural.flood", "水旱灾害", "Flood and drought"),
    ("natural.flood.waterlogging", "洪涝与城市内涝", "Flood and urban waterlogging"),
    ("natural.meteorological", "气象灾害", "Meteorological disaster"),
    ("natural.meteorological.typhoon", "台风", "Typhoon"),
    ("natural.meteorological.rainstorm", "暴雨", "Rainstorm"),
    ("natural.earthquake", "地震灾害", "Earthquake"),
    ("natural.geological", "地质灾害", "Geological disaster"),
    ("natural.geological.landslide", "滑坡崩塌", "Landslide or rockfall"),
    ("natural.geological.debris_flow", "泥石流", "Debris flow"),
    ("natural.forest_fire", "森林草原火灾", "Forest or grassland fire"),
    ("accident", "事故灾难", "Accident"),
    ("accident.fire", "火灾事故", "Fire"),
    ("accident.fire.urban", "城市火灾", "Urban fire"),
    ("accident.fire.high_rise", "高层建筑火灾", "High-rise building fire"),
    ("accident.hazmat", "危险化学品事故", "Hazardous-chemical accident"),
    ("accident.hazmat.leak", "危险化学品泄漏", "Hazardous-chemical leak"),
    ("accident.hazmat.explosion", "危险化学品爆炸", "Hazardous-chemical explosion"),
    ("accident.gas_explosion", "燃气爆炸", "Gas explosion"),
    ("accident.building_collapse", "建筑坍塌", "Building collapse"),
    ("accident.traffic", "交通运输事故", "Traffic accident"),
    ("accident.traffic.road_mass_casualty", "道路交通群死群伤事故", "Road mass-casualty accident"),
    ("accident.utility", "城市生命线事故", "Utility failure (water, power, gas)"),
    ("public_health", "公共卫生事件", "Public health event"),
    ("public_health.epidemic", "传染病疫情", "Infectious disease outbreak"),
    ("public_health.food_poisoning", "群体性食物中毒", "Mass food poisoning"),
    ("social_safety", "社会安全事件", "Social safety event"),
    ("social_safety.mass_gathering", "大型活动与人群聚集", "Crowd or mass gathering"),
    ("social_safety.terrorism", "恐怖袭击", "Terrorist attack"),
)

INCIDENT_TYPES: MappingProxyType[str, IncidentType] = MappingProxyType(
    {code: IncidentType(code, zh, en) for code, zh, en in _TYPES}
)

LEVELS = MappingProxyType(
    {
        "I": ("特别重大", "Extremely serious"),
        "II": ("重大", "Serious"),
        "III": ("较大", "Relatively serious"),
        "IV": ("一般", "Ordinary"),
    }
)


def incident_type(code: str, *, field: str = "properties.type") -> IncidentType:
    """The type with ``code``, or :class:`UnknownIncidentType` naming close codes."""
    try:
        return INCIDENT_TYPES[code]
    except (KeyError, TypeError):
        tail = str(code).rsplit(".", 1)[-1]
        near = [c for c in INCIDENT_TYPES if tail and tail in c][:5]
        hint = f"; did you mean {', '.join(near)}?" if near else "; see /api/v1/incident-types"
        msg = f"unknown incident type {code!r}{hint}"
        raise UnknownIncidentType(msg, field=field) from None


def lineage(code: str) -> list[str]:
    """``code`` and its ancestors, most specific first: ``a.b.c`` -> ``[a.b.c, a.b, a]``."""
    parts = code.split(".")
    return [".".join(parts[:i]) for i in range(len(parts), 0, -1)]
