"""How failures map onto Airflow task outcomes.

A :class:`~wonde_sync.wonde.errors.PermanentError` (Wonde refusing the token or the school,
a directory or an import that a check refused) fails the task at once; anything else
(network faults, 5xx after the client's own retries, a database hiccup) is left to
Airflow's retries.
"""

from __future__ import annotations

import contextlib
from collections.abc import Generator

from wonde_sync.wonde.errors import PermanentError


@contextlib.contextmanager
def no_retry_when_permanent() -> Generator[None, None, None]:
    """Re-raise permanent failures as Airflow's no-retry failure, with the same message."""
    try:
        yield
    except PermanentError as exc:
        from airflow.sdk.exceptions import AirflowFailException

        raise AirflowFailException(str(exc)) from exc
