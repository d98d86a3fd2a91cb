"""API: warnings."""

from __future__ import annotations
