"""The Airflow Assets the DAGs produce and consume (kept light: DAG files import this)."""

from airflow.sdk import Asset, AssetWatcher

from wonde_sync.tasks.approval_watch import ApprovalWatch

#: The published schools catalog (``wonde_schools``), updated by each full sync.
WONDE_SCHOOLS = Asset(name="wonde_schools", uri="calm-db://calm_db/wonde_schools")

#: Connections that became importable (enabled, approved, token held); extra: site_ids.
#: Announced by the reconcile DAG and, seconds after an approval, by the watcher that
#: Airflow's triggerer runs (event payload: site_ids).
WONDE_CONNECTION_APPROVED = Asset(
    name="wonde_connection_approved",
    uri="calm-db://calm_db/wonde_connections/approved",
    watchers=[AssetWatcher(name="wonde_approval_watch", trigger=ApprovalWatch())],
)
