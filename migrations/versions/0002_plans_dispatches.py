"""plans and dispatches

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 14:12:22.765858
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "plans",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("title_zh", sa.Text(), nullable=False),
        sa.Column("title_en", sa.Text(), nullable=False),
        sa.Column("incident_types", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("document", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("updated_by", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plans")),
    )
    op.create_geospatial_table(
        "dispatches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("depot_id", sa.Integer(), nullable=True),
        sa.Column("item_code", sa.Text(), nullable=True),
        sa.Column("quantity", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("plan_id", sa.Text(), nullable=True),
        sa.Column("plan_level", sa.Text(), nullable=True),
        sa.Column("eta_s", sa.Double(), nullable=True),
        sa.Column("distance_m", sa.Double(), nullable=True),
        sa.Column(
            "route",
            Geometry(
                geometry_type="LINESTRING",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            nullable=True,
        ),
        sa.Column("steps", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("link_nonce", sa.Text(), nullable=True),
        sa.Column("link_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("link_revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("created_by", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "(kind = 'team' AND team_id IS NOT NULL) OR (kind = 'material' AND depot_id IS NOT NULL AND item_code IS NOT NULL AND quantity > 0)",
            name=op.f("ck_dispatches_kind_fields"),
        ),
        sa.CheckConstraint("kind IN ('team', 'material')", name=op.f("ck_dispatches_kind")),
        sa.CheckConstraint(
            "status IN ('dispatched', 'en_route', 'on_scene', 'done', 'recalled', 'released')",
            name=op.f("ck_dispatches_status"),
        ),
        sa.ForeignKeyConstraint(
            ["depot_id"],
            ["depots.id"],
            name=op.f("fk_dispatches_depot_id_depots"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_dispatches_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_dispatches_team_id_teams"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dispatches")),
    )
    op.create_geospatial_index(
        "idx_dispatches_route",
        "dispatches",
        ["route"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index("ix_dispatches_incident", "dispatches", ["incident_id"], unique=False)
    op.create_index(op.f("ix_dispatches_team_id"), "dispatches", ["team_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_dispatches_team_id"), table_name="dispatches")
    op.drop_index("ix_dispatches_incident", table_name="dispatches")
    op.drop_geospatial_index(
        "idx_dispatches_route",
        table_name="dispatches",
        postgresql_using="gist",
        column_name="route",
    )
    op.drop_geospatial_table("dispatches")
    op.drop_table("plans")
