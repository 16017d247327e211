"""The settings every Airflow these scripts start on loopback shares.

An api-server on ``127.0.0.1:port`` with one admin (``user``, password in ``passwords``),
this repository's DAGs and plugin, logs under ``home``, and ``wonde_default`` pointing at
a Wonde (the emulator) at ``wonde_url``. Each script adds its executor and databases.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent


def loopback_env(
    *,
    home: Path,
    port: int,
    user: str,
    passwords: Path,
    wonde_url: str,
    token: str,
    drop: str = "AIRFLOW__",
) -> dict[str, str]:
    """This process's environment without the variables named ``drop…`` (by default its
    Airflow settings, so that its connections stay), plus the shared settings."""
    api_url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env.update(
        AIRFLOW_HOME=str(home),
        PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
        AIRFLOW_CONN_WONDE_DEFAULT=json.dumps(
            {
                "conn_type": "http",
                "host": f"{wonde_url}/v1.0",
                "extra": {"Authorization": f"Bearer {token}"},
            }
        ),
        WONDE_WEBHOOK_SECRET=secrets.token_urlsafe(16),
        AIRFLOW__CORE__PARALLELISM="2",  # two cores
        AIRFLOW__CORE__DAGS_FOLDER=str(REPO / "dags"),
        AIRFLOW__CORE__PLUGINS_FOLDER=str(REPO / "plugins"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"{api_url}/execution/",
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS=f"{user}:admin",
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE=str(passwords),
        AIRFLOW__API__BASE_URL=api_url,
        AIRFLOW__API__HOST="127.0.0.1",
        AIRFLOW__API__PORT=str(port),
        AIRFLOW__API__WORKERS="1",
        AIRFLOW__API__SECRET_KEY=secrets.token_hex(16),
        AIRFLOW__API_AUTH__JWT_SECRET=secrets.token_hex(32),
        AIRFLOW__LOGGING__BASE_LOG_FOLDER=str(home / "logs"),
        AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME="0.5",
    )
    return env
