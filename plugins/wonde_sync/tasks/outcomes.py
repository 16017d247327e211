"""How failures map onto Airflow task outcomes.

A failure that a retry cannot fix (Wonde refusing the token or the school, a directory or
an import that a check refused) fails the task at once; anything else (network faults,
5xx after the client's own retries, a database hiccup) is left to Airflow's retries.
"""

from __future__ import annotations

import contextlib
from collections.abc import Generator


def is_permanent(exc: BaseException) -> bool:
    """True when retrying the task cannot change the outcome."""
    from wonde_sync.catalog.rebuild import CatalogValidationError
    from wonde_sync.people.store import MassArchiveBlocked
    from wonde_sync.wonde.errors import WondeAuthError, WondeForbiddenError

    permanent = (WondeAuthError, WondeForbiddenError, CatalogValidationError, MassArchiveBlocked)
    return isinstance(exc, permanent)


@contextlib.contextmanager
def no_retry_when_permanent() -> Generator[None, None, None]:
    """Re-raise permanent failures as Airflow's no-retry failure, with the same message."""
    try:
        yield
    except Exception as exc:
        if is_permanent(exc):
            from airflow.sdk.exceptions import AirflowFailException

            raise AirflowFailException(str(exc)) from exc
        raise
