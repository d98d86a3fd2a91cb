"""warnings, evacuation, population and sensitive sites, hazard readings; shelter reservations

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 15:44:29.382686
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_geospatial_table(
        "population",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("people", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.Text(), server_default="census", nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("year", sa.Integer(), nullable=True),
        sa.Column("demo", sa.Boolean(), server_default="false", nullable=False),
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
            name=op.f("ck_population_geom_type"),
        ),
        sa.CheckConstraint("people >= 0", name=op.f("ck_population_people_nonneg")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_population")),
    )
    op.create_geospatial_index(
        "idx_population_geom",
        "population",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(op.f("ix_population_source"), "population", ["source"], unique=False)
    op.create_geospatial_table(
        "sites",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_type", sa.Text(), nullable=False),
        sa.Column("occupants", sa.Integer(), nullable=True),
        sa.Column("address", sa.Text(), nullable=True),
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
            name=op.f("ck_sites_geom_type"),
        ),
        sa.CheckConstraint(
            "site_type IN ('school', 'kindergarten', 'hospital', 'clinic', 'elderly_home', 'social_facility', 'other')",
            name=op.f("ck_sites_site_type"),
        ),
        sa.CheckConstraint(
            "occupants IS NULL OR occupants >= 0", name=op.f("ck_sites_occupants_nonneg")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sites")),
    )
    op.create_geospatial_index(
        "idx_sites_geom",
        "sites",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(op.f("ix_sites_site_type"), "sites", ["site_type"], unique=False)
    op.create_geospatial_table(
        "alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("identifier", sa.Text(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("msg_type", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("references_id", sa.Integer(), nullable=True),
        sa.Column("sent", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "area",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            nullable=True,
        ),
        sa.Column("area_spec", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("inside", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("info", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("cap_xml", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("created_by", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "msg_type IN ('Alert', 'Update', 'Cancel')", name=op.f("ck_alerts_msg_type")
        ),
        sa.CheckConstraint(
            "status IN ('active', 'superseded', 'cancelled')", name=op.f("ck_alerts_status")
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_alerts_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["references_id"], ["alerts.id"], name=op.f("fk_alerts_references_id_alerts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
        sa.UniqueConstraint("identifier", name=op.f("uq_alerts_identifier")),
    )
    op.create_geospatial_index(
        "idx_alerts_area",
        "alerts",
        ["area"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index("ix_alerts_incident", "alerts", ["incident_id"], unique=False)
    op.create_geospatial_table(
        "evacuations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column(
            "zone",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column("people", sa.BigInteger(), nullable=False),
        sa.Column("assigned", sa.BigInteger(), nullable=False),
        sa.Column("total_person_s", sa.Double(), nullable=False),
        sa.Column("flows", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_by", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "status IN ('committed', 'released')", name=op.f("ck_evacuations_status")
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_evacuations_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evacuations")),
    )
    op.create_geospatial_index(
        "idx_evacuations_zone",
        "evacuations",
        ["zone"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index("ix_evacuations_incident", "evacuations", ["incident_id"], unique=False)
    op.create_table(
        "hazard_readings",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("hazard_id", sa.Integer(), nullable=False),
        sa.Column("value", sa.Double(), nullable=False),
        sa.Column("unit", sa.Text(), nullable=True),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("level", sa.Text(), nullable=True),
        sa.Column("incident_id", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "level IS NULL OR level IN ('warn', 'alarm')", name=op.f("ck_hazard_readings_level")
        ),
        sa.ForeignKeyConstraint(
            ["hazard_id"],
            ["hazards.id"],
            name=op.f("fk_hazard_readings_hazard_id_hazards"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_hazard_readings_incident_id_incidents"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hazard_readings")),
    )
    op.create_index(
        "ix_hazard_readings_hazard_at",
        "hazard_readings",
        ["hazard_id", "observed_at"],
        unique=False,
    )
    op.create_table(
        "evacuation_loads",
        sa.Column("evacuation_id", sa.Integer(), nullable=False),
        sa.Column("shelter_id", sa.Integer(), nullable=False),
        sa.Column("people", sa.Integer(), nullable=False),
        sa.CheckConstraint("people > 0", name=op.f("ck_evacuation_loads_people_pos")),
        sa.ForeignKeyConstraint(
            ["evacuation_id"],
            ["evacuations.id"],
            name=op.f("fk_evacuation_loads_evacuation_id_evacuations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["shelter_id"],
            ["shelters.id"],
            name=op.f("fk_evacuation_loads_shelter_id_shelters"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("evacuation_id", "shelter_id", name=op.f("pk_evacuation_loads")),
    )
    op.add_column(
        "shelters", sa.Column("reserved", sa.Integer(), server_default="0", nullable=False)
    )
    op.create_check_constraint(
        op.f("ck_shelters_reserved_in_range"),
        "shelters",
        "reserved >= 0 AND occupancy + reserved <= capacity",
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_shelters_reserved_in_range"), "shelters", type_="check")
    op.drop_column("shelters", "reserved")
    op.drop_table("evacuation_loads")
    op.drop_index("ix_hazard_readings_hazard_at", table_name="hazard_readings")
    op.drop_table("hazard_readings")
    op.drop_index("ix_evacuations_incident", table_name="evacuations")
    op.drop_geospatial_index(
        "idx_evacuations_zone",
        table_name="evacuations",
        postgresql_using="gist",
        column_name="zone",
    )
    op.drop_geospatial_table("evacuations")
    op.drop_index("ix_alerts_incident", table_name="alerts")
    op.drop_geospatial_index(
        "idx_alerts_area", table_name="alerts", postgresql_using="gist", column_name="area"
    )
    op.drop_geospatial_table("alerts")
    op.drop_index(op.f("ix_sites_site_type"), table_name="sites")
    op.drop_geospatial_index(
        "idx_sites_geom", table_name="sites", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("sites")
    op.drop_index(op.f("ix_population_source"), table_name="population")
    op.drop_geospatial_index(
        "idx_population_geom", table_name="population", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("population")
