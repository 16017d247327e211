#!/usr/bin/env bash
# The CalmCompliance database beside Airflow's on one PostgreSQL server. The postgres image
# runs this once, when its data volume is first created (/docker-entrypoint-initdb.d), as
# the superuser POSTGRES_USER. CALM_DB_PASSWORD is required; CALM_DB_USER and CALM_DB_NAME
# default to "calm". psql quotes the values itself (:"name", :'literal'), so a password may
# hold any character.
set -e
: "${CALM_DB_PASSWORD:?set CALM_DB_PASSWORD for the calm database}"
psql -v ON_ERROR_STOP=1 --no-psqlrc \
    --username "${POSTGRES_USER:-postgres}" --dbname "${POSTGRES_DB:-postgres}" \
    --set=calm_user="${CALM_DB_USER:-calm}" --set=calm_db="${CALM_DB_NAME:-calm}" \
    --set=calm_password="$CALM_DB_PASSWORD" <<'SQL'
CREATE ROLE :"calm_user" LOGIN PASSWORD :'calm_password';
CREATE DATABASE :"calm_db" OWNER :"calm_user";
SQL
