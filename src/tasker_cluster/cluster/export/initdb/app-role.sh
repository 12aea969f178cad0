#!/bin/sh
# Written by `cluster export compose`; the next export overwrites it. The postgres image runs it once, when it first
# creates the data folder (/docker-entrypoint-initdb.d, before the server takes TCP connections): the application
# role the instances log in as, owner of the database and so of PGMQ's schema and the services' tables, and no
# superuser (it cannot read the server's files or run programs as its account). The password comes from the
# environment, which compose fills from the .env file beside compose.yaml; the server stores its SCRAM verifier.
set -e
: "${TASKER_DATABASE_ROLE:?TASKER_DATABASE_ROLE must be set}"
: "${TASKER_DATABASE_PASSWORD:?set TASKER_DATABASE_PASSWORD in the .env file beside compose.yaml}"
psql -v ON_ERROR_STOP=1 --no-psqlrc --username "${POSTGRES_USER:-postgres}" --dbname "${POSTGRES_DB:-postgres}" \
    --set=role="$TASKER_DATABASE_ROLE" --set=password="$TASKER_DATABASE_PASSWORD" \
    --set=database="${POSTGRES_DB:-postgres}" <<'SQL'
SET password_encryption = 'scram-sha-256';
CREATE ROLE :"role" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'password';
ALTER DATABASE :"database" OWNER TO :"role";
SQL
