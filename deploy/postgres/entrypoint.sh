#!/bin/sh
# First start on an empty volume: a cluster whose superuser is
# $POSTGRES_USER with $POSTGRES_PASSWORD, and the database $POSTGRES_DB;
# connections from other containers must give the password. Then (and on
# every later start) PostgreSQL itself.
set -eu
: "${PGDATA:=/var/lib/postgresql/data}"
: "${POSTGRES_USER:=itemserve}"
: "${POSTGRES_DB:=$POSTGRES_USER}"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    if [ -z "${POSTGRES_PASSWORD:-}" ]; then
        echo "postgres-entrypoint: set POSTGRES_PASSWORD for the first start" >&2
        exit 1
    fi
    password_file="$(mktemp)"
    printf '%s' "$POSTGRES_PASSWORD" > "$password_file"
    initdb -D "$PGDATA" -U "$POSTGRES_USER" --pwfile="$password_file" \
        --auth-local=trust --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >/dev/null
    rm -f "$password_file"
    echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
    if [ "$POSTGRES_DB" != "postgres" ]; then
        pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
        createdb -U "$POSTGRES_USER" "$POSTGRES_DB"
        pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
    fi
    echo "postgres-entrypoint: created the database '$POSTGRES_DB' owned by '$POSTGRES_USER'"
fi
exec postgres -D "$PGDATA" -c listen_addresses='*'
