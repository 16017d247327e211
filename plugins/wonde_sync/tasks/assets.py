"""The Airflow Assets the DAGs produce and consume (kept light: DAG files import this)."""

from airflow.sdk import Asset

#: The published schools catalog (``wonde_schools``), updated by each full sync.
WONDE_SCHOOLS = Asset(name="wonde_schools", uri="calm-db://calm_db/wonde_schools")

#: Connections that became importable (enabled, approved, token held); extra: site_ids.
WONDE_CONNECTION_APPROVED = Asset(
    name="wonde_connection_approved", uri="calm-db://calm_db/wonde_connections/approved"
)
