"""Controlled vocabularies of the layers, with their zh-CN and en labels.

The database enforces the same values with CHECK constraints (see the migrations).
"""

from __future__ import annotations

from types import MappingProxyType

TEAM_TYPES = MappingProxyType(
    {
        "fire": ("消防救援", "Fire and rescue"),
        "medical": ("医疗救护", "Medical"),
        "rescue": ("综合救援", "Search and rescue"),
        "hazmat": ("危化品处置", "Hazardous materials"),
        "police": ("公安", "Police"),
        "water_rescue": ("水上救援", "Water rescue"),
        "engineering": ("工程抢险", "Engineering"),
        "power": ("电力抢修", "Power repair"),
        "communications": ("通信保障", "Communications"),
        "mine_rescue": ("矿山救护", "Mine rescue"),
        "forest_fire": ("森林消防", "Forest firefighting"),
        "volunteer": ("社会救援力量", "Volunteer rescue"),
    }
)

TEAM_STATUSES = MappingProxyType(
    {
        "available": ("待命", "Available"),
        "dispatched": ("已派遣", "Dispatched"),
        "en_route": ("途中", "En route"),
        "on_scene": ("到场", "On scene"),
        "returning": ("返回中", "Returning"),
        "out_of_service": ("停用", "Out of service"),
    }
)

#: Allowed status changes of a team. ``out_of_service`` can be entered from any state that is
#: not on a mission, and left only to ``available``.
TEAM_TRANSITIONS = MappingProxyType(
    {
        "available": frozenset({"dispatched", "out_of_service"}),
        "dispatched": frozenset({"en_route", "on_scene", "returning", "available"}),
        "en_route": frozenset({"on_scene", "returning", "available"}),
        "on_scene": frozenset({"returning", "available"}),
        "returning": frozenset({"available", "out_of_service"}),
        "out_of_service": frozenset({"available"}),
    }
)

SHELTER_STATUSES = MappingProxyType(
    {"open": ("开放", "Open"), "full": ("已满", "Full"), "closed": ("关闭", "Closed")}
)

SHELTER_TYPES = MappingProxyType(
    {
        "school": ("学校", "School"),
        "community_centre": ("社区中心", "Community centre"),
        "sports_hall": ("体育馆", "Sports hall"),
        "park": ("公园/广场", "Park or square"),
        "purpose_built": ("专用避难场所", "Purpose-built shelter"),
        "other": ("其他", "Other"),
    }
)

SHELTER_FACILITIES = MappingProxyType(
    {
        "water": ("供水", "Water"),
        "power": ("供电", "Power"),
        "medical": ("医疗点", "Medical post"),
        "toilets": ("厕所", "Toilets"),
        "kitchen": ("厨房", "Kitchen"),
        "heating": ("供暖", "Heating"),
        "accessible": ("无障碍", "Accessible"),
        "beds": ("床位", "Beds"),
    }
)

SITE_TYPES = MappingProxyType(
    {
        "school": ("学校", "School"),
        "kindergarten": ("幼儿园", "Kindergarten"),
        "hospital": ("医院", "Hospital"),
        "clinic": ("诊所", "Clinic"),
        "elderly_home": ("养老院", "Elderly home"),
        "social_facility": ("福利机构", "Social facility"),
        "other": ("其他", "Other"),
    }
)

HAZARD_TYPES = MappingProxyType(
    {
        "landslide": ("滑坡崩塌", "Landslide or rockfall"),
        "debris_flow": ("泥石流", "Debris flow"),
        "ground_subsidence": ("地面塌陷", "Ground subsidence"),
        "flood_prone": ("易涝点", "Flood-prone spot"),
        "dam": ("水库大坝", "Dam or reservoir"),
        "major_hazard_source": ("重大危险源", "Major hazard source"),
        "chemical_site": ("危化品企业", "Chemical site"),
        "gas_station": ("加油加气站", "Fuel or gas station"),
        "other": ("其他", "Other"),
    }
)

RISK_LEVELS = MappingProxyType(
    {
        "low": ("低风险", "Low"),
        "moderate": ("一般风险", "Moderate"),
        "high": ("较大风险", "High"),
        "very_high": ("重大风险", "Very high"),
    }
)

INCIDENT_STATUSES = MappingProxyType(
    {
        "reported": ("已接报", "Reported"),
        "responding": ("处置中", "Responding"),
        "contained": ("已控制", "Contained"),
        "closed": ("已结束", "Closed"),
    }
)

INCIDENT_LEVELS = MappingProxyType(
    {
        "I": ("特别重大", "Extremely serious"),
        "II": ("重大", "Serious"),
        "III": ("较大", "Relatively serious"),
        "IV": ("一般", "Ordinary"),
    }
)
