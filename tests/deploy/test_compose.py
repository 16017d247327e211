"""docker-compose.yaml's conventions, read from the YAML without a Docker engine: health
checks and restart policies, secrets only from the environment and shared by every Airflow
service, every variable documented in .env.example, the init job; and, when a compose
client is installed, ``docker compose config`` on .env.example's values."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yaml"
ENV_EXAMPLE = REPO / ".env.example"

#: Values every Airflow container must agree on, each required from the environment.
SHARED_SECRETS = (
    "AIRFLOW__API_AUTH__JWT_SECRET",
    "AIRFLOW__API__SECRET_KEY",
    "AIRFLOW__CORE__FERNET_KEY",
    "WONDE_TOKEN_KEY",
    "WONDE_WEBHOOK_SECRET",
    "AIRFLOW_CONN_CALM_DB",
    "AIRFLOW_CONN_WONDE_DEFAULT",
)
#: A variable whose name says it holds a secret.
SECRET_NAME = re.compile(r"PASSWORD|SECRET|KEY|TOKEN")
#: ${NAME}, ${NAME:-default}, ${NAME:?message}; $${NAME} is the container's own variable.
REFERENCE = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")
AIRFLOW_SERVICES = {
    "airflow-init": None,
    "airflow-apiserver": "api-server",
    "airflow-scheduler": "scheduler",
    "airflow-dag-processor": "dag-processor",
    "airflow-triggerer": "triggerer",
    "airflow-worker": "celery worker",
}


@pytest.fixture(scope="module")
def services() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())["services"]


def _references() -> list[tuple[str, str, str]]:
    return REFERENCE.findall(COMPOSE_FILE.read_text())


def _documented() -> dict[str, str]:
    """Each variable .env.example sets, with the comment lines just above it."""
    documented, comment = {}, []
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line.startswith("#"):
            comment.append(line.lstrip("# "))
        elif match := re.fullmatch(r"([A-Z_][A-Z0-9_]*)=(.*)", line):
            documented[match[1]] = " ".join(comment)
            comment = []
        else:
            comment = []
    return documented


def _one_shot(services: dict) -> set[str]:
    """Services others wait on to exit (airflow-init): jobs, not daemons."""
    return {
        name
        for service in services.values()
        for name, wait in (service.get("depends_on") or {}).items()
        if wait.get("condition") == "service_completed_successfully"
    }


def test_every_daemon_has_a_healthcheck_and_restarts(services):
    one_shot = _one_shot(services)
    assert one_shot == {"airflow-init"}
    for name, service in services.items():
        if name in one_shot:
            assert service["restart"] == "no", name
            continue
        assert service["restart"] == "always", name
        assert service["healthcheck"]["test"], name
    assert {"postgres", "redis", *AIRFLOW_SERVICES} <= set(services)


def test_airflow_services_run_their_command_and_wait_for_init(services):
    for name, command in AIRFLOW_SERVICES.items():
        if command is None:
            continue
        service = services[name]
        assert service["command"].startswith(command), name
        assert service["depends_on"]["airflow-init"]["condition"] == (
            "service_completed_successfully"
        ), name
        assert service["stop_grace_period"], name
    for name in ("airflow-scheduler", "airflow-worker"):
        assert services[name]["depends_on"]["airflow-apiserver"] == {"condition": "service_healthy"}


def test_no_secret_has_a_default():
    found = {name for name, _, _ in _references()}
    assert {"POSTGRES_PASSWORD", "CALM_DB_PASSWORD", "AIRFLOW__API_AUTH__JWT_SECRET"} <= found
    for name, operator, _ in _references():
        if SECRET_NAME.search(name):
            assert operator == ":?", f"${{{name}}} must be required, with no default"


def test_every_airflow_service_shares_the_required_secrets(services):
    common = services["airflow-init"]["environment"]
    for key in SHARED_SECRETS:
        required = [name for name, op, _ in REFERENCE.findall(common[key]) if op == ":?"]
        assert required, f"{key} needs a secret from the environment"
        for name in AIRFLOW_SERVICES:
            assert services[name]["environment"][key] == common[key], (name, key)
    jwt = REFERENCE.search(common["AIRFLOW__API_AUTH__JWT_SECRET"])
    assert jwt[1] == "AIRFLOW__API_AUTH__JWT_SECRET" and "64" in jwt[3]
    assert "64" in _documented()["AIRFLOW__API_AUTH__JWT_SECRET"]


def test_every_variable_is_documented_in_env_example():
    documented = _documented()
    for name, _, _ in _references():
        assert documented.get(name), f"{name} needs a commented line in .env.example"
    # Secrets are left empty there, so a copied .env cannot start with published values.
    for name, value in (line.split("=", 1) for line in _env_lines()):
        if SECRET_NAME.search(name):
            assert value == "", name
            assert "Generate" in documented[name] or "any" in documented[name], name


def _env_lines() -> list[str]:
    return [line for line in ENV_EXAMPLE.read_text().splitlines() if re.match(r"[A-Z_]+=", line)]


def test_init_migrates_creates_the_pool_and_the_calm_schema(services):
    script = "\n".join(services["airflow-init"]["command"])
    steps = ["airflow db migrate", "airflow pools set wonde_api", "python -m wonde_sync init-db"]
    positions = [script.index(step) for step in steps]
    assert positions == sorted(positions)
    assert "set -e" in script


def test_workers_scale_on_one_host(services):
    worker = services["airflow-worker"]
    assert "--skip-serve-logs" in worker["command"]
    assert worker["environment"]["DUMB_INIT_SETSID"] == "0"
    env = worker["environment"]
    assert int(env["AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__VISIBILITY_TIMEOUT"]) >= 3600
    # Skipping the log server works because the api-server reads the same log files.
    for name in ("airflow-worker", "airflow-apiserver", "airflow-triggerer"):
        assert "airflow-logs:/opt/airflow/logs" in services[name]["volumes"], name


def test_calm_db_is_its_own_database_on_the_same_server(services):
    postgres = services["postgres"]
    mounted = [volume.split(":") for volume in postgres["volumes"]]
    scripts = [REPO / src for src, dest, *_ in mounted if "docker-entrypoint-initdb.d" in dest]
    assert scripts and all(script.is_file() for script in scripts)
    calm = services["airflow-worker"]["environment"]["AIRFLOW_CONN_CALM_DB"]
    password = r"\$\{CALM_DB_PASSWORD:\?[^}]*\}"
    assert re.fullmatch(rf"postgresql://calm:{password}@postgres:5432/calm", calm)
    assert postgres["environment"]["CALM_DB_PASSWORD"].startswith("${CALM_DB_PASSWORD:?")


# -- with a compose client ----------------------------------------------------------------


def _compose_client() -> list[str]:
    """``docker compose`` (the plugin) or ``docker-compose``; skip when neither runs."""
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True)
        if probe.returncode == 0:
            return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    pytest.skip(
        "no compose client: install one with `apt-get install docker-compose` (Debian) "
        "or Docker's compose plugin (`docker compose`)"
    )


def _config(client: list[str], env_file: Path, home: Path) -> subprocess.CompletedProcess:
    # No Docker engine is needed: config only interpolates and validates the file. The
    # test run's own AIRFLOW__* variables would win over the env file: a bare environment.
    command = [*client, "--env-file", str(env_file), "-f", str(COMPOSE_FILE), "config"]
    env = {"PATH": os.environ["PATH"], "HOME": str(home)}
    return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=60)


def test_compose_config_accepts_env_example_with_secrets_filled_in(tmp_path):
    client = _compose_client()
    filled = tmp_path / ".env"
    values = {}
    for name, value in (line.split("=", 1) for line in _env_lines()):
        values[name] = value or secrets.token_hex(40)
    filled.write_text("".join(f"{name}={value}\n" for name, value in values.items()))
    rendered = _config(client, filled, tmp_path)
    assert rendered.returncode == 0, rendered.stderr
    config = yaml.safe_load(rendered.stdout)
    worker_env = config["services"]["airflow-worker"]["environment"]
    assert worker_env["AIRFLOW__API_AUTH__JWT_SECRET"] == values["AIRFLOW__API_AUTH__JWT_SECRET"]
    assert worker_env["WONDE_TOKEN_KEY"] == values["WONDE_TOKEN_KEY"]


def test_compose_config_refuses_env_example_as_it_is(tmp_path):
    client = _compose_client()
    refused = _config(client, ENV_EXAMPLE, tmp_path)
    assert refused.returncode != 0
    assert "set it in .env" in refused.stderr
