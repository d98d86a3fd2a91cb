"""API: evacuation."""

from __future__ import annotations
