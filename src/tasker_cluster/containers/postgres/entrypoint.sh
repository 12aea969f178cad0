#!/bin/sh
# The official postgres image's start-up, for the settings the compose export uses: POSTGRES_USER, POSTGRES_PASSWORD,
# POSTGRES_DB, POSTGRES_INITDB_ARGS, PGDATA and the executable scripts of /docker-entrypoint-initdb.d. A first start
# initialises the data folder, creates the database and runs those scripts; then `postgres ARGS...` runs as the
# postgres user, listening on every address with password authentication.
set -eu
PGDATA=${PGDATA:-/var/lib/postgresql/data}
if [ "$(id -u)" = 0 ]; then
    mkdir -p "$PGDATA" /var/run/postgresql
    chown postgres:postgres "$PGDATA" /var/run/postgresql
    chmod 700 "$PGDATA"
    exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi
if [ "${1:-}" = postgres ] && [ ! -s "$PGDATA/PG_VERSION" ]; then
    : "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD must be set}"
    user=${POSTGRES_USER:-postgres}
    password_file=$(mktemp)
    printf '%s' "$POSTGRES_PASSWORD" > "$password_file"
    # shellcheck disable=SC2086  # POSTGRES_INITDB_ARGS is a list of options, as in the official image
    initdb --username="$user" --pwfile="$password_file" --auth-local=trust --auth-host=scram-sha-256 \
        ${POSTGRES_INITDB_ARGS:-} -D "$PGDATA"
    rm -f "$password_file"
    echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
    echo "listen_addresses = '*'" >> "$PGDATA/postgresql.conf"
    database=${POSTGRES_DB:-$user}
    pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start
    if [ "$database" != postgres ]; then
        # psql quotes the name (:"name") only in what it reads, not in -c.
        echo 'CREATE DATABASE :"name"' |
            psql -v ON_ERROR_STOP=1 --username="$user" --dbname=postgres --set=name="$database"
    fi
    # As the official image: each script once, in name order, while only the socket listens (the export's
    # app-role.sh runs so, executable; *.sql and sourced scripts are not used here).
    for script in /docker-entrypoint-initdb.d/*.sh; do
        [ -x "$script" ] || continue
        echo "running $script"
        POSTGRES_USER=$user POSTGRES_DB=$database "$script"
    done
    pg_ctl -D "$PGDATA" -m fast -w stop
fi
if [ "${1:-}" = postgres ]; then
    shift
    exec postgres -D "$PGDATA" "$@"
fi
exec "$@"
