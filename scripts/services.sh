#!/usr/bin/env bash
# Private PostgreSQL 15 + PostGIS and Redis for this checkout, kept under var/.
#
#   scripts/services.sh start    install missing packages, init and start both, write var/env
#   scripts/services.sh stop     stop what start started (harmless if nothing runs)
#   scripts/services.sh status   one line per service
#   scripts/services.sh env      print var/env (written by start)
#
# Set DATABASE_URL (and optionally TEST_DATABASE_URL) or REDIS_URL (and
# TEST_REDIS_URL) to use external servers instead; start then only writes var/env.
# Ports are derived from the checkout path, so clones on one machine don't collide
# and system servers on 5432/6379 don't matter.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
VAR="$ROOT/var"
PGBIN=/usr/lib/postgresql/15/bin
SUM="$(printf '%s' "$ROOT" | cksum | cut -d' ' -f1)"
PG_PORT=$((20000 + SUM % 20000))      # 20000..39999
REDIS_PORT=$((40000 + SUM % 20000))   # 40000..59999, never equal to PG_PORT
TAG="$(printf '%s' "$ROOT" | sha256sum | cut -c1-12)"
RDIR="$VAR/redis"
PG_URL="postgresql+psycopg://onemap@127.0.0.1:$PG_PORT/onemap"
REDIS_URL_OURS="redis://127.0.0.1:$REDIS_PORT"
# URLs that point at our own servers (e.g. var/env sourced in this shell) are not "external".
[ "${DATABASE_URL:-}" != "$PG_URL" ] || unset DATABASE_URL TEST_DATABASE_URL
[ "${REDIS_URL:-}" != "$REDIS_URL_OURS/0" ] || unset REDIS_URL TEST_REDIS_URL

log() { echo "[services] $*" >&2; }
die() { echo "[services] error: $*" >&2; exit 1; }
is_root() { [ "$(id -u)" -eq 0 ]; }

# Poll a command until it succeeds or $1 seconds have passed.
wait_for() {
  local end=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$end" ] || return 1
    sleep 0.2
  done
}

as_root() { if is_root; then "$@"; else sudo "$@"; fi; }

# ---------------------------------------------------------------- packages
install_packages() {
  local pkgs=() i
  if [ -z "${DATABASE_URL:-}" ]; then
    [ -x "$PGBIN/initdb" ] || pkgs+=(postgresql-15)
    [ -f /usr/share/postgresql/15/extension/postgis.control ] || pkgs+=(postgresql-15-postgis-3)
  fi
  if [ -z "${REDIS_URL:-}" ]; then
    command -v redis-server >/dev/null && command -v redis-cli >/dev/null || pkgs+=(redis-server)
  fi
  [ ${#pkgs[@]} -gt 0 ] || return 0
  is_root || command -v sudo >/dev/null || die "missing packages ${pkgs[*]}: run as root, or install sudo"
  log "installing ${pkgs[*]} (apt output in var/apt.log)"
  # 'apt-get update' ignores DPkg::Lock::Timeout, so wait for its lock ourselves.
  for i in $(seq 100); do
    if as_root apt-get -qq update >"$VAR/apt.log" 2>"$VAR/apt.err"; then break; fi
    grep -q 'Could not get lock' "$VAR/apt.err" && [ "$i" -lt 100 ] || { cat "$VAR/apt.err" >&2; die "apt-get update failed"; }
    [ "$i" -eq 1 ] && log "waiting for another apt/dpkg process to finish"
    sleep 3
  done
  rm -f "$VAR/apt.err"
  # The Debian packages may start system services (5432/6379); we don't use them.
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    -o DPkg::Lock::Timeout=300 "${pkgs[@]}" >>"$VAR/apt.log" \
    || { tail -n 20 "$VAR/apt.log" >&2; die "apt-get install failed"; }
}

# ---------------------------------------------------------------- postgres
# PostgreSQL refuses to run as root: as root the cluster belongs to 'postgres'.
# Once created, whoever owns var/pg runs it.
PG_USER="" PGBASE="" PGDATA=""
as_pg() {
  if [ "$PG_USER" = "$(id -un)" ]; then "$@"
  elif is_root; then (cd / && runuser -u "$PG_USER" -- "$@")
  else (cd / && sudo -u "$PG_USER" -- "$@"); fi
}
pg_locate() {   # set PG_USER/PGBASE/PGDATA from an existing var/pg; false if none
  [ -d "$VAR/pg/" ] || return 1
  PG_USER="$(stat -L -c %U "$VAR/pg")"
  PGBASE="$(readlink -f "$VAR/pg")"
  PGDATA="$PGBASE/data"
}
pg_prepare_dir() {   # create var/pg (or a postgres-owned stand-in it links to)
  if ! is_root; then mkdir -p -m 700 "$VAR/pg"; return; fi
  local target
  if [ -L "$VAR/pg" ]; then
    target="$(readlink "$VAR/pg")"                 # dangling link: recreate its target
  elif runuser -u postgres -- test -x "$VAR"; then
    target="$VAR/pg"
  else
    # The checkout sits where 'postgres' cannot reach (e.g. a 0700 parent):
    # keep the cluster in a postgres-owned dir and link var/pg to it.
    target="/var/tmp/onemap-pg-$TAG"
    log "postgres cannot reach $VAR; cluster goes to $target (var/pg links there)"
  fi
  if [ -e "$target" ] || [ -L "$target" ]; then
    [ ! -L "$target" ] && [ "$(stat -c %U "$target")" = postgres ] \
      || die "$target exists and is not a postgres-owned directory"
  else
    mkdir -m 700 "$target" && chown postgres:postgres "$target"
  fi
  [ "$target" = "$VAR/pg" ] || ln -sfn "$target" "$VAR/pg"
}
pg_running() { [ -n "$PGDATA" ] && as_pg "$PGBIN/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; }
pg_ready() { "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -U onemap -d postgres -t 2; }
pg_log_tail() { as_pg tail -n 20 "$PGBASE/postgres.log" >&2 || true; }
psql_() { "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U onemap "$@"; }

pg_init() {
  local locale=C tmp="$PGBASE/data.init"
  locale -a 2>/dev/null | grep -qiE '^c\.utf-?8$' && locale=C.UTF-8
  log "initdb $PGDATA (locale $locale)"
  as_pg rm -rf "$tmp" "$PGDATA"        # leftovers of an interrupted init
  as_pg "$PGBIN/initdb" -D "$tmp" --auth=trust -U onemap --encoding=UTF8 \
    --locale="$locale" --no-sync >"$VAR/initdb.log" 2>&1 \
    || { cat "$VAR/initdb.log" >&2; die "initdb failed"; }
  echo "include 'onemap.conf'" | as_pg tee -a "$tmp/postgresql.conf" >/dev/null
  as_pg mv "$tmp" "$PGDATA"
}

pg_write_conf() {   # regenerated before every start (the port follows the checkout path)
  local sock="$PGBASE/run"
  local lockfile="$sock/.s.PGSQL.$PG_PORT.lock"     # longest path it creates there
  if [ ${#lockfile} -lt 100 ]; then as_pg mkdir -p "$sock"; else sock=""; fi
  as_pg tee "$PGDATA/onemap.conf" >/dev/null <<EOF
# Written by scripts/services.sh. This is a PRIVATE dev/test cluster: durability
# is traded for speed (fsync etc. off) - a crash may lose or corrupt its data.
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '${sock//\'/\'\'}'
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
}

pg_start() {
  [ -d "$VAR/pg/" ] || pg_prepare_dir
  pg_locate
  [ -f "$PGDATA/PG_VERSION" ] || as_pg test -f "$PGDATA/PG_VERSION" || pg_init
  if ! pg_running; then
    pg_ready && die "port $PG_PORT is taken by another PostgreSQL server"
    pg_write_conf
    log "starting postgres on 127.0.0.1:$PG_PORT"
    as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -l "$PGBASE/postgres.log" -w -t 60 start >/dev/null 9>&- \
      || { pg_log_tail; die "postgres did not start (log: var/pg/postgres.log)"; }
  fi
  wait_for 60 pg_ready || { pg_log_tail; die "postgres not ready on port $PG_PORT after 60 s"; }
  local db existing
  existing="$(psql_ -d postgres -tAc 'SELECT datname FROM pg_database')"
  for db in onemap onemap_test; do
    grep -qx "$db" <<<"$existing" || { log "creating database $db"; psql_ -d postgres -c "CREATE DATABASE $db OWNER onemap"; }
    psql_ -d "$db" -c 'SET client_min_messages = warning; CREATE EXTENSION IF NOT EXISTS postgis'
  done
}

pg_stop() {
  pg_locate || return 0
  pg_running || return 0
  log "stopping postgres"
  as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null
}

# ---------------------------------------------------------------- redis
redis_cli() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@" 2>/dev/null; }
redis_up() { [ "$(redis_cli ping)" = PONG ]; }
redis_ours() { [ "$(redis_cli config get dir | sed -n 2p)" = "$RDIR" ]; }
# A live process (an exited daemon can linger as a zombie until init reaps it).
alive() { local st; st="$(sed -n 's/^State:[[:space:]]*//p' "/proc/$1/status" 2>/dev/null)" && [ -n "$st" ] && [ "${st:0:1}" != Z ]; }
redis_pid() { local p; p="$(cat "$RDIR/redis.pid" 2>/dev/null)" && alive "$p" && echo "$p"; }

redis_start() {
  if redis_up; then
    redis_ours || die "port $REDIS_PORT is taken by another Redis server"
    return 0
  fi
  mkdir -p "$RDIR"
  cat >"$RDIR/redis.conf" <<EOF
# Written by scripts/services.sh: private dev/test Redis, no persistence.
bind 127.0.0.1
port $REDIS_PORT
protected-mode yes
daemonize yes
pidfile "$RDIR/redis.pid"
logfile "$RDIR/redis.log"
dir "$RDIR"
save ""
appendonly no
EOF
  log "starting redis on 127.0.0.1:$REDIS_PORT"
  redis-server "$RDIR/redis.conf" 9>&- || die "redis-server failed (log: var/redis/redis.log)"
  wait_for 30 redis_up || { tail -n 20 "$RDIR/redis.log" >&2 || true; die "redis not answering on port $REDIS_PORT after 30 s"; }
}

redis_stop() {
  local pid
  pid="$(redis_pid)" || pid=""
  if command -v redis-cli >/dev/null && redis_up && redis_ours; then
    log "stopping redis"; redis_cli shutdown nosave >/dev/null || true
  elif [ -n "$pid" ]; then
    log "stopping redis (pid $pid)"; kill "$pid" 2>/dev/null || true
  fi
  [ -z "$pid" ] || wait_for 10 eval "! alive $pid" || die "redis (pid $pid) did not stop"
}

# ---------------------------------------------------------------- env file
write_env() {
  local db tdb r tr
  if [ -n "${DATABASE_URL:-}" ]; then db="$DATABASE_URL"; tdb="${TEST_DATABASE_URL:-$DATABASE_URL}"
  else db="$PG_URL"; tdb="${PG_URL}_test"; fi
  if [ -n "${REDIS_URL:-}" ]; then r="$REDIS_URL"; tr="${TEST_REDIS_URL:-$REDIS_URL}"
  else r="$REDIS_URL_OURS/0"; tr="$REDIS_URL_OURS/1"; fi
  {
    echo "# Written by scripts/services.sh start"
    printf 'export %s=%q\n' DATABASE_URL "$db" TEST_DATABASE_URL "$tdb" REDIS_URL "$r" TEST_REDIS_URL "$tr"
  } >"$VAR/env.tmp"
  mv "$VAR/env.tmp" "$VAR/env"
}

# Serialise concurrent start/stop. Daemons are started with fd 9 closed so they don't keep the lock.
lock() { mkdir -p "$VAR"; exec 9>"$VAR/.services.lock"; flock -w 300 9 || die "another services.sh is busy"; }

case "${1:-}" in
  start)
    lock
    install_packages
    if [ -n "${DATABASE_URL:-}" ]; then log "DATABASE_URL set: not starting postgres"; else pg_start; fi
    if [ -n "${REDIS_URL:-}" ]; then log "REDIS_URL set: not starting redis"; else redis_start; fi
    write_env
    log "ready (source var/env)"
    ;;
  stop)
    lock
    pg_stop
    redis_stop
    ;;
  status)
    if pg_locate && pg_running; then echo "postgres: running on 127.0.0.1:$PG_PORT (data $PGDATA)"
    else echo "postgres: not running${DATABASE_URL:+ (DATABASE_URL is set: external)}"; fi
    if command -v redis-cli >/dev/null && redis_up && redis_ours; then echo "redis: running on 127.0.0.1:$REDIS_PORT"
    else echo "redis: not running${REDIS_URL:+ (REDIS_URL is set: external)}"; fi
    ;;
  env)
    [ -f "$VAR/env" ] || die "no var/env yet: run scripts/services.sh start"
    cat "$VAR/env"
    ;;
  *)
    echo "usage: $0 start|stop|status|env" >&2; exit 2 ;;
esac
