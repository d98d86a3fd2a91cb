"""dispatch routes stored without compression

A route is a line of float64 coordinates (~3 kB for 190 points), which pglz cannot shrink:
the server tried on every row and gave up, ~45 us a route, in the commit's transaction.
EXTERNAL keeps large values out of line as before, without the attempt.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 23:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE dispatches ALTER COLUMN route SET STORAGE EXTERNAL")


def downgrade() -> None:
    op.execute("ALTER TABLE dispatches ALTER COLUMN route SET STORAGE MAIN")
