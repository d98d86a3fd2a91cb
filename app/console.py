"""The dispatcher console page (``/console``) and the printable incident snapshot."""

from __future__ import annotations

from flask import Blueprint

blueprint = Blueprint("console", __name__)
