#!/usr/bin/env bash
# The stand-in postgres image's entrypoint: initialise the data folder on first start (the user, password and
# database from POSTGRES_USER/POSTGRES_PASSWORD/POSTGRES_DB, as the official image does), then run the server.
set -Eeuo pipefail

: "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD (the official postgres image needs it too)}"
user="${POSTGRES_USER:-postgres}"
db="${POSTGRES_DB:-$user}"

if [[ ! -s "$PGDATA/PG_VERSION" ]]; then
	initdb -D "$PGDATA" -U "$user" --auth-local=trust --auth-host=scram-sha-256 \
		--pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") >/dev/null
	echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
	if [[ "$db" != postgres ]]; then
		pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
		createdb -U "$user" "$db"
		pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
	fi
fi
exec postgres -D "$PGDATA" -c listen_addresses='*'
