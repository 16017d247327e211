"""Conventions every Wonde DAG shares (owner, retries, failure notifications); light enough
for DAG files."""

from datetime import timedelta

from airflow.sdk import Param

from wonde_sync.tasks.notifications import FailureNotifier

OWNER = "calm-integrations"
#: Sites one import task imports, unless its run's Param ``batch_size`` says otherwise.
DEFAULT_BATCH_SIZE = 25


def batch_size_param() -> Param:
    """The Param ``batch_size`` both sync DAGs take."""
    return Param(
        DEFAULT_BATCH_SIZE,
        type="integer",
        minimum=1,
        title="Sites per task",
        description="How many sites one import_sites task imports (more when needed to "
        "stay within Airflow's limit of mapped tasks).",
    )


def dry_run_param() -> Param:
    """The Param ``dry_run`` both sync DAGs take."""
    return Param(
        False,
        type="boolean",
        title="Preview (dry run)",
        description="Run the site imports as previews: each logs what it would change as a "
        "plan (see the run's changes) and changes no staff or pupil.",
    )


def default_args(retry_delay: timedelta = timedelta(minutes=2)) -> dict:
    """Task defaults: the team as owner, two retries with growing delays, and a notification
    when a task fails for good (:mod:`wonde_sync.tasks.notifications`)."""
    return {
        "owner": OWNER,
        "retries": 2,
        "retry_delay": retry_delay,
        "retry_exponential_backoff": True,
        "on_failure_callback": FailureNotifier(),
    }
