"""Live updates: the server-sent events stream that the wall display and the console listen to."""

from __future__ import annotations

from flask import Blueprint

blueprint = Blueprint("live", __name__)
