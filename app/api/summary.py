"""API: summary."""

from __future__ import annotations
