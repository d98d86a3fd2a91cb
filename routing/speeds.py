"""Default driving speeds (km/h) by OpenStreetMap ``highway`` class.

Used where a road carries no speed of its own (``maxspeed`` or a mapped speed field). Urban
values, chosen for emergency vehicles in city traffic rather than legal limits; override them
per import with a table of your own.
"""

from __future__ import annotations

from types import MappingProxyType

DEFAULT_KMH = MappingProxyType(
    {
        "motorway": 90.0,
        "motorway_link": 50.0,
        "trunk": 70.0,
        "trunk_link": 40.0,
        "primary": 50.0,
        "primary_link": 35.0,
        "secondary": 45.0,
        "secondary_link": 30.0,
        "tertiary": 40.0,
        "tertiary_link": 25.0,
        "unclassified": 30.0,
        "residential": 30.0,
        "living_street": 10.0,
        "service": 15.0,
        "road": 30.0,
    }
)

#: Speed for a class missing from the table (km/h).
FALLBACK_KMH = 30.0


def speed_kmh(road_class: str | list | None, table: dict[str, float] | None = None) -> float:
    """Speed of a road class; for a list of classes (a merged OSM way), their mean."""
    table = dict(DEFAULT_KMH) if table is None else table
    if isinstance(road_class, list):
        values = [speed_kmh(c, table) for c in road_class]
        return sum(values) / len(values) if values else FALLBACK_KMH
    return float(table.get(str(road_class), FALLBACK_KMH)) if road_class else FALLBACK_KMH
