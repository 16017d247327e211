"""The host name a Celery worker of ``scripts/cluster.py`` reports for its tasks.

The cluster's two workers run on one machine, so Airflow's default (the machine's FQDN)
would not tell them apart. Each worker is started with ``CALM_WORKER_HOSTNAME`` and
``[core] hostname_callable = cluster_worker.worker_hostname`` (this folder on its
``PYTHONPATH``); a task instance's ``hostname`` then names the worker that ran it.
"""

from __future__ import annotations

import os
import socket


def worker_hostname() -> str:
    """``CALM_WORKER_HOSTNAME``, else the machine's fully qualified name."""
    return os.environ.get("CALM_WORKER_HOSTNAME") or socket.getfqdn()
