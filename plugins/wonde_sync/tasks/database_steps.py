"""Steps on ``calm_db`` itself: every DAG first brings its schema up to date; the hourly
reconcile prunes the change log."""

from __future__ import annotations


def prepare_database() -> list[str]:
    """Apply pending schema migrations to ``calm_db``; return the names applied now."""
    from wonde_sync.core.database import apply_schema, engine_for

    return apply_schema(engine_for())


def prune_change_log() -> int:
    """Delete change log rows older than the retention setting; return how many."""
    from wonde_sync.core.database import engine_for
    from wonde_sync.people import change_log

    try:
        retention = change_log.retention_from_env()
    except ValueError as exc:
        from airflow.sdk.exceptions import AirflowFailException

        raise AirflowFailException(str(exc)) from None
    return change_log.prune(engine_for(), retention)
