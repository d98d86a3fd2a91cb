"""initial layers, audit log, users

Revision ID: 0001
Revises:
Create Date: 2026-11-25 13:21:42.699340
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


APPEND_ONLY = """
CREATE FUNCTION onemap_audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP;
END $$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION onemap_audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION onemap_audit_log_append_only();
"""


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("entity", sa.Text(), nullable=False),
        sa.Column("entity_id", sa.BigInteger(), nullable=True),
        sa.Column("before", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("after", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(op.f("ix_audit_log_at"), "audit_log", ["at"], unique=False)
    op.create_index("ix_audit_log_entity", "audit_log", ["entity", "entity_id"], unique=False)
    op.create_geospatial_table(
        "depots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("operator", sa.Text(), nullable=True),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("name_en", sa.Text(), nullable=True),
        sa.Column("phone", sa.Text(), nullable=True),
        sa.Column("contact", sa.Text(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("osm_id", sa.Text(), nullable=True),
        sa.Column("demo", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
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
        sa.PrimaryKeyConstraint("id", name=op.f("pk_depots")),
    )
    op.create_geospatial_index(
        "idx_depots_geom",
        "depots",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_geospatial_table(
        "hazards",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("risk_level", sa.Text(), server_default="moderate", nullable=False),
        sa.Column(
            "influence",
            Geometry(
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            nullable=True,
        ),
        sa.Column(
            "monitoring",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="{}",
            nullable=False,
        ),
        sa.Column("responsible", sa.Text(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("name_en", sa.Text(), nullable=True),
        sa.Column("phone", sa.Text(), nullable=True),
        sa.Column("contact", sa.Text(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("osm_id", sa.Text(), nullable=True),
        sa.Column("demo", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
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
            "influence IS NULL OR GeometryType(influence) IN ('POLYGON', 'MULTIPOLYGON')",
            name=op.f("ck_hazards_influence_type"),
        ),
        sa.CheckConstraint(
            "risk_level IN ('low', 'moderate', 'high', 'very_high')",
            name=op.f("ck_hazards_risk_level"),
        ),
        sa.CheckConstraint(
            "type IN ('landslide', 'debris_flow', 'ground_subsidence', 'flood_prone', 'dam', 'major_hazard_source', 'chemical_site', 'gas_station', 'other')",
            name=op.f("ck_hazards_type"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hazards")),
    )
    op.create_geospatial_index(
        "idx_hazards_geom",
        "hazards",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_geospatial_index(
        "idx_hazards_influence",
        "hazards",
        ["influence"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(op.f("ix_hazards_type"), "hazards", ["type"], unique=False)
    op.create_geospatial_table(
        "incidents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("level", sa.Text(), nullable=True),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), server_default="reported", nullable=False),
        sa.Column("casualties", sa.Integer(), server_default="0", nullable=False),
        sa.Column("injured", sa.Integer(), server_default="0", nullable=False),
        sa.Column("affected", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "reported_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("demo", sa.Boolean(), server_default="false", nullable=False),
        sa.Column(
            "area",
            Geometry(
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            nullable=True,
        ),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
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
            "area IS NULL OR GeometryType(area) IN ('POLYGON', 'MULTIPOLYGON')",
            name=op.f("ck_incidents_area_type"),
        ),
        sa.CheckConstraint(
            "level IS NULL OR level IN ('I', 'II', 'III', 'IV')", name=op.f("ck_incidents_level")
        ),
        sa.CheckConstraint(
            "status IN ('reported', 'responding', 'contained', 'closed')",
            name=op.f("ck_incidents_status"),
        ),
        sa.CheckConstraint(
            "casualties >= 0 AND injured >= 0 AND affected >= 0",
            name=op.f("ck_incidents_counts_nonneg"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incidents")),
    )
    op.create_geospatial_index(
        "idx_incidents_area",
        "incidents",
        ["area"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_geospatial_index(
        "idx_incidents_geom",
        "incidents",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(op.f("ix_incidents_status"), "incidents", ["status"], unique=False)
    op.create_index(op.f("ix_incidents_type"), "incidents", ["type"], unique=False)
    op.create_geospatial_table(
        "shelters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("shelter_type", sa.Text(), nullable=True),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("occupancy", sa.Integer(), server_default="0", nullable=False),
        sa.Column("status", sa.Text(), server_default="open", nullable=False),
        sa.Column("facilities", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False),
        sa.Column(
            "geom",
            Geometry(
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("name_en", sa.Text(), nullable=True),
        sa.Column("phone", sa.Text(), nullable=True),
        sa.Column("contact", sa.Text(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("osm_id", sa.Text(), nullable=True),
        sa.Column("demo", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
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
            "GeometryType(geom) IN ('POINT', 'POLYGON', 'MULTIPOLYGON')",
            name=op.f("ck_shelters_geom_type"),
        ),
        sa.CheckConstraint(
            "shelter_type IS NULL OR shelter_type IN ('school', 'community_centre', 'sports_hall', 'park', 'purpose_built', 'other')",
            name=op.f("ck_shelters_type"),
        ),
        sa.CheckConstraint("status IN ('open', 'full', 'closed')", name=op.f("ck_shelters_status")),
        sa.CheckConstraint("capacity >= 0", name=op.f("ck_shelters_capacity_nonneg")),
        sa.CheckConstraint(
            "occupancy >= 0 AND occupancy <= capacity", name=op.f("ck_shelters_occupancy_in_range")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shelters")),
    )
    op.create_geospatial_index(
        "idx_shelters_geom",
        "shelters",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_geospatial_table(
        "teams",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("capabilities", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False),
        sa.Column("headcount", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "home_base",
            Geometry(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            nullable=True,
        ),
        sa.Column("status", sa.Text(), server_default="available", nullable=False),
        sa.Column("position_reported_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("callsign", sa.Text(), nullable=True),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("name_en", sa.Text(), nullable=True),
        sa.Column("phone", sa.Text(), nullable=True),
        sa.Column("contact", sa.Text(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("osm_id", sa.Text(), nullable=True),
        sa.Column("demo", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
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
            "status IN ('available', 'dispatched', 'en_route', 'on_scene', 'returning', 'out_of_service')",
            name=op.f("ck_teams_status"),
        ),
        sa.CheckConstraint(
            "type IN ('fire', 'medical', 'rescue', 'hazmat', 'police', 'water_rescue', 'engineering', 'power', 'communications', 'mine_rescue', 'forest_fire', 'volunteer')",
            name=op.f("ck_teams_type"),
        ),
        sa.CheckConstraint("headcount >= 0", name=op.f("ck_teams_headcount_nonneg")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_teams")),
    )
    op.create_geospatial_index(
        "idx_teams_geom",
        "teams",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_geospatial_index(
        "idx_teams_home_base",
        "teams",
        ["home_base"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(op.f("ix_teams_status"), "teams", ["status"], unique=False)
    op.create_index(op.f("ix_teams_type"), "teams", ["type"], unique=False)
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=True),
        sa.Column("active", sa.Boolean(), server_default="true", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("role IN ('admin', 'dispatcher', 'viewer')", name=op.f("ck_users_role")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("name", name=op.f("uq_users_name")),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("digest", sa.Text(), nullable=False),
        sa.Column("label", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_api_tokens_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("digest", name=op.f("uq_api_tokens_digest")),
    )
    op.create_index(op.f("ix_api_tokens_user_id"), "api_tokens", ["user_id"], unique=False)
    op.create_table(
        "depot_stock",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("depot_id", sa.Integer(), nullable=False),
        sa.Column("item_code", sa.Text(), nullable=False),
        sa.Column("name_zh", sa.Text(), nullable=True),
        sa.Column("name_en", sa.Text(), nullable=True),
        sa.Column("unit", sa.Text(), nullable=True),
        sa.Column("on_hand", sa.BigInteger(), nullable=False),
        sa.Column("reserved", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("on_hand >= 0", name=op.f("ck_depot_stock_on_hand_nonneg")),
        sa.CheckConstraint("reserved <= on_hand", name=op.f("ck_depot_stock_reserved_le_on_hand")),
        sa.CheckConstraint("reserved >= 0", name=op.f("ck_depot_stock_reserved_nonneg")),
        sa.ForeignKeyConstraint(
            ["depot_id"],
            ["depots.id"],
            name=op.f("fk_depot_stock_depot_id_depots"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_depot_stock")),
        sa.UniqueConstraint("depot_id", "item_code", name="uq_depot_stock_item"),
    )
    op.create_index(op.f("ix_depot_stock_depot_id"), "depot_stock", ["depot_id"], unique=False)
    op.create_index(op.f("ix_depot_stock_item_code"), "depot_stock", ["item_code"], unique=False)
    op.execute(APPEND_ONLY)


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log")
    op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
    op.execute("DROP FUNCTION IF EXISTS onemap_audit_log_append_only()")
    op.drop_index(op.f("ix_depot_stock_item_code"), table_name="depot_stock")
    op.drop_index(op.f("ix_depot_stock_depot_id"), table_name="depot_stock")
    op.drop_table("depot_stock")
    op.drop_index(op.f("ix_api_tokens_user_id"), table_name="api_tokens")
    op.drop_table("api_tokens")
    op.drop_table("users")
    op.drop_index(op.f("ix_teams_type"), table_name="teams")
    op.drop_index(op.f("ix_teams_status"), table_name="teams")
    op.drop_geospatial_index(
        "idx_teams_home_base", table_name="teams", postgresql_using="gist", column_name="home_base"
    )
    op.drop_geospatial_index(
        "idx_teams_geom", table_name="teams", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("teams")
    op.drop_geospatial_index(
        "idx_shelters_geom", table_name="shelters", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("shelters")
    op.drop_index(op.f("ix_incidents_type"), table_name="incidents")
    op.drop_index(op.f("ix_incidents_status"), table_name="incidents")
    op.drop_geospatial_index(
        "idx_incidents_geom", table_name="incidents", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_index(
        "idx_incidents_area", table_name="incidents", postgresql_using="gist", column_name="area"
    )
    op.drop_geospatial_table("incidents")
    op.drop_index(op.f("ix_hazards_type"), table_name="hazards")
    op.drop_geospatial_index(
        "idx_hazards_influence",
        table_name="hazards",
        postgresql_using="gist",
        column_name="influence",
    )
    op.drop_geospatial_index(
        "idx_hazards_geom", table_name="hazards", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("hazards")
    op.drop_geospatial_index(
        "idx_depots_geom", table_name="depots", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("depots")
    op.drop_index("ix_audit_log_entity", table_name="audit_log")
    op.drop_index(op.f("ix_audit_log_at"), table_name="audit_log")
    op.drop_table("audit_log")
