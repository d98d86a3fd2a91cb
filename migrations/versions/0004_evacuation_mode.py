"""evacuation mode: on foot or by car

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 16:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "evacuations", sa.Column("mode", sa.Text(), server_default="walk", nullable=False)
    )
    op.create_check_constraint(
        op.f("ck_evacuations_mode"), "evacuations", "mode IN ('walk', 'drive')"
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_evacuations_mode"), "evacuations", type_="check")
    op.drop_column("evacuations", "mode")
