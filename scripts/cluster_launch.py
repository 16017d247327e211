"""``airflow …`` for ``scripts/cluster.py``, with what the Celery provider needs from Celery.

apache-airflow-providers-celery 3.26.0 imports ``celery.backends.database.retry``, a
decorator Celery 5.7 removed, so with the locked ``celery==5.7.0`` every Celery executor
and worker fails at import. Until the lock pins ``celery<5.7``, this puts back an
equivalent (retry a result-backend query on a database error, three tries), then runs
Airflow's command line; with a Celery that still has it, nothing is changed.

    python scripts/cluster_launch.py celery worker …
"""

from __future__ import annotations

import functools
import logging
import sys

log = logging.getLogger(__name__)


def restore_database_retry() -> None:
    """Give ``celery.backends.database`` its ``retry`` decorator back, if it lacks it."""
    from celery.backends import database
    from sqlalchemy.exc import DatabaseError, InvalidRequestError
    from sqlalchemy.orm.exc import StaleDataError

    if hasattr(database, "retry"):
        return

    def retry(fun):
        @functools.wraps(fun)
        def tried(*args, **kwargs):
            tries = kwargs.pop("max_retries", 3)
            for attempt in range(1, tries + 1):
                try:
                    return fun(*args, **kwargs)
                except (DatabaseError, InvalidRequestError, StaleDataError):
                    if attempt == tries:
                        raise
                    log.warning("%s failed; trying again (%d left)", fun.__name__, tries - attempt)

        return tried

    database.retry = retry


if __name__ == "__main__":
    restore_database_retry()
    from airflow.__main__ import main

    sys.argv[0] = "airflow"
    sys.exit(main())
