"""Conventions every Wonde DAG shares (owner, retries); light enough for DAG files."""

from datetime import timedelta

OWNER = "calm-integrations"


def default_args(retry_delay: timedelta = timedelta(minutes=2)) -> dict:
    """Task defaults: the team as owner, two retries with growing delays."""
    return {
        "owner": OWNER,
        "retries": 2,
        "retry_delay": retry_delay,
        "retry_exponential_backoff": True,
    }
