"""Shared test set-up: an isolated Airflow home (before anything imports Airflow), databases
on both backends, the Wonde emulator, and real Airflow services.

Everything a test creates on PostgreSQL is dropped when the test (or the run) ends; the run
checks at its end that none of its databases is left. Work that one run needs once (a
PostgreSQL server when ``CALM_TEST_POSTGRES_URL`` is not set, Airflow's migrated metadata
databases) is done once per run, also under pytest-xdist (:mod:`tests.support.shared_run`).
"""

from __future__ import annotations

import atexit
import copy
import functools
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="wonde-test-airflow-"))
atexit.register(shutil.rmtree, _AIRFLOW_HOME, ignore_errors=True)
os.environ["AIRFLOW_HOME"] = str(_AIRFLOW_HOME)
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(REPO / "dags")
os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(REPO / "plugins")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "False"
# Airflow signs its UI tokens with this; a long one, as production should use.
os.environ["AIRFLOW__API_AUTH__JWT_SECRET"] = secrets.token_hex(32)
# School tokens are encrypted with the published development key in tests.
os.environ.setdefault("CALM_ENVIRONMENT", "test")
# In-process runs (dag.test()) keep Airflow's metadata in SQLite: one process, one file.
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{_AIRFLOW_HOME / 'airflow.db'}"

import pytest  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from tests.support import postgres_server, shared_run  # noqa: E402
from tests.support.airflow_services import AirflowServices  # noqa: E402
from tests.support.emulator_control import EmulatorControl  # noqa: E402

#: Airflow pools the DAGs use: name -> (slots, description).
POOLS = {"wonde_api": (2, "Calls to Wonde")}


# -- the run ------------------------------------------------------------------------------


def _first_process(config: pytest.Config) -> bool:
    return not hasattr(config, "workerinput")  # pytest-xdist workers have it


def pytest_configure(config: pytest.Config) -> None:
    if _first_process(config):
        shared_run.begin()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the tests that need PostgreSQL; start the longest (real Airflow) ones first."""
    for item in items:
        params = getattr(item, "callspec", None)
        backend = params.params.get("calm_db") if params else None
        if backend == "postgresql" or "postgres_url" in item.fixturenames:
            item.add_marker(pytest.mark.postgres)
    # pytest-xdist (--dist loadgroup) hands the tests to its workers one by one in this
    # order: the longest first keep every worker busy to the end. The others keep theirs.
    items.sort(key=lambda item: ("start_airflow" not in item.fixturenames, not _slow(item)))


def _slow(item: pytest.Item) -> bool:
    return item.get_closest_marker("slow") is not None


def pytest_sessionfinish(session: pytest.Session) -> None:
    """In the first process, after every test: drop the run's databases, check none is left."""
    if not _first_process(session.config):
        return
    try:
        server = shared_run.done("postgres-url")
        if server:
            _end_postgres(session, server)
    finally:
        folder = shared_run.done("postgres-folder")
        if folder:
            postgres_server.stop(folder)
            shutil.rmtree(folder, ignore_errors=True)
        shared_run.end()


def _end_postgres(session: pytest.Session, server: str) -> None:
    for template in ("calm-schema-template", "airflow-postgres-template"):
        name = shared_run.done(template)
        if name:
            postgres_server.drop_database(server, name)
    left = postgres_server.databases(server, f"%\\_{shared_run.tag()}\\_%")
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    say = reporter.write_line if reporter else print
    say(f"PostgreSQL databases left behind by this run: {len(left)}")
    if left:
        for name in left:
            postgres_server.drop_database(server, name)
        say(f"FAILED: a test did not drop {', '.join(left)} (dropped now)")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


# -- databases ----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """Base URL of a PostgreSQL server: CALM_TEST_POSTGRES_URL, or one started for the run."""
    return shared_run.once("postgres-url", _postgres_server)


def _postgres_server() -> str:
    given = os.environ.get("CALM_TEST_POSTGRES_URL")
    if given:
        return given
    # Not in the run's folder: that is private to root, and the server runs as the
    # postgres user when the tests run as root.
    folder = tempfile.mkdtemp(prefix="calm-test-pg-")
    shared_run.once("postgres-folder", lambda: folder)
    return postgres_server.start(folder)


def new_database_name(kind: str) -> str:
    """A unique name, ``<kind>_<run tag>_<random>``, for a database this run creates."""
    return f"{kind}_{shared_run.tag()}_{secrets.token_hex(4)}"


def _airflow_conn_json(url: sa.URL) -> str:
    if url.get_backend_name() == "sqlite":
        return json.dumps({"conn_type": "sqlite", "host": url.database})
    return json.dumps(
        {
            "conn_type": "postgres",
            "host": url.host,
            "port": url.port,
            "login": url.username,
            "password": url.password or "",
            "schema": url.database,
        }
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def calm_db(request, tmp_path, monkeypatch):
    """A fresh, empty CalmCompliance database on each backend, wired up as ``calm_db``.

    On PostgreSQL, a test that asks for ``engine`` gets a copy of a database migrated once
    per run instead (``engine`` then finds no migration to apply). The PostgreSQL database
    is dropped after the test.
    """
    if request.param == "sqlite":
        url = sa.make_url(f"sqlite:///{tmp_path / 'calm.db'}")
        server = None
    else:
        server = request.getfixturevalue("postgres_url")
        template = _calm_schema_template(server) if "engine" in request.fixturenames else None
        name = new_database_name("calm")
        url = sa.make_url(postgres_server.create_database(server, name, template=template))
    monkeypatch.setenv("AIRFLOW_CONN_CALM_DB", _airflow_conn_json(url))
    yield url
    if server:
        postgres_server.drop_database(server, url.database)


@pytest.fixture
def calm_db_copies(request, calm_db, monkeypatch):
    """A factory of copies of ``calm_db`` as it is when called (dispose its engines first).

    Each call makes one, points the ``calm_db`` connection at it and returns its URL; the
    PostgreSQL copies are dropped after the test.
    """
    copies: list[sa.URL] = []

    def copy() -> sa.URL:
        if calm_db.get_backend_name() == "sqlite":
            path = Path(calm_db.database).with_name(f"copy-{len(copies)}.db")
            _copy_sqlite(calm_db.database, str(path))
            url = sa.make_url(f"sqlite:///{path}")
        else:
            server = request.getfixturevalue("postgres_url")
            name = new_database_name("calm")
            url = sa.make_url(
                postgres_server.create_database(server, name, template=calm_db.database)
            )
        copies.append(url)
        monkeypatch.setenv("AIRFLOW_CONN_CALM_DB", _airflow_conn_json(url))
        return url

    yield copy
    if calm_db.get_backend_name() != "sqlite":
        server = request.getfixturevalue("postgres_url")
        for url in copies:
            postgres_server.drop_database(server, url.database)


#: Per process, the worlds ``seeded`` built, by (key, backend): (PostgreSQL server or None,
#: the saved copy, build's value).
_SEEDED: dict[tuple[str, str], tuple[str | None, str, object]] = {}


@pytest.fixture(scope="session")
def _seed_copies():
    """Where ``seeded`` keeps its SQLite copies; drops its PostgreSQL ones at the end."""
    folder = Path(tempfile.mkdtemp(prefix="wonde-test-seeds-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)
    for server, saved, _ in _SEEDED.values():
        if server:
            postgres_server.drop_database(server, saved)
    _SEEDED.clear()


@pytest.fixture
def seeded(request, calm_db, engine, _seed_copies):
    """``seeded(key, build)``: the test's database as ``build(engine)`` leaves it.

    ``build`` runs once per process and backend for each ``key``; later tests get a copy of
    the database it left, and a copy of the value it returned. The key names everything
    ``build`` depends on (its emulator's options, say), and ``build`` may change nothing
    outside the database that a test would see: a fresh ``emulator`` of the same options
    stands in for the one it used (the catalog's ``region_domain`` is moved to it).
    """
    backend = calm_db.get_backend_name()
    server = request.getfixturevalue("postgres_url") if backend != "sqlite" else None

    def seed(key: str, build, *, emulator):
        found = _SEEDED.get((key, backend))
        if found is None:
            value = (_domains(emulator), build(engine))
            engine.dispose()
            if server is None:
                saved = str(_seed_copies / f"{key}.db")
                _copy_sqlite(calm_db.database, saved)
            else:
                saved = new_database_name("seed")
                postgres_server.end_sessions(server, calm_db.database)
                postgres_server.create_database(server, saved, template=calm_db.database)
            _SEEDED[key, backend] = (server, saved, value)
            return copy.deepcopy(value[1])
        _, saved, (domains, value) = found
        engine.dispose()
        if server is None:
            _copy_sqlite(saved, calm_db.database)
        else:
            postgres_server.drop_database(server, calm_db.database)
            postgres_server.create_database(server, calm_db.database, template=saved)
        schools = sa.table("wonde_schools", sa.column("region_domain"))
        with engine.begin() as conn:
            for old, new in zip(domains, _domains(emulator), strict=True):
                conn.execute(
                    schools.update().where(schools.c.region_domain == old).values(region_domain=new)
                )
        return copy.deepcopy(value)

    return seed


def _domains(emulator) -> tuple[str, str]:
    """The ``region.domain`` values an emulator gives its schools (GBR, AUS)."""
    return emulator.world.gbr_domain, emulator.world.aus_domain


def _copy_sqlite(source: str, target: str) -> None:
    """Copy a SQLite database that no connection has open, with its write-ahead log."""
    for suffix in ("-wal", "-shm"):
        Path(target + suffix).unlink(missing_ok=True)
    for suffix in ("", "-wal"):
        if Path(source + suffix).exists():
            shutil.copyfile(source + suffix, target + suffix)


def _calm_schema_template(server: str) -> str:
    """The name of a PostgreSQL database with the CalmCompliance schema (made once per run)."""

    def migrate() -> str:
        from wonde_sync.core.database import apply_schema, engine_from_url

        name = new_database_name("calm")
        eng = engine_from_url(postgres_server.create_database(server, name))
        apply_schema(eng)
        eng.dispose()
        return name

    return shared_run.once("calm-schema-template", migrate)


@pytest.fixture
def quick_backoff(monkeypatch):
    """The Wonde client's retries, same attempts, without seconds of backoff between them."""
    from wonde_sync.wonde.client import WondeClient

    init = functools.partialmethod(WondeClient.__init__, backoff_initial=0.01, backoff_max=0.05)
    monkeypatch.setattr(WondeClient, "__init__", init)


@pytest.fixture(autouse=True)
def _process_engines():
    """The engines ``engine_for`` keeps per process are closed after each test: every test
    has a database of its own."""
    yield
    from wonde_sync.core.database import dispose_engines

    dispose_engines()


@pytest.fixture
def engine(calm_db):
    """An engine on ``calm_db`` with the schema applied."""
    from wonde_sync.core.database import apply_schema, engine_from_url

    eng = engine_from_url(calm_db)
    apply_schema(eng)
    yield eng
    eng.dispose()


# -- Airflow ------------------------------------------------------------------------------


#: Runs Airflow CLI commands (argument lists, JSON in argv[1]) in one process.
_AIRFLOW_CLI = """
import json, sys
from airflow.cli.cli_parser import get_parser
for argv in json.loads(sys.argv[1]):
    args = get_parser().parse_args(argv)
    args.func(args)
"""


def _migrate(home: Path, metadata_url: str) -> None:
    """``airflow db migrate`` of ``metadata_url``, then ``airflow pools set`` of the pools."""
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_url,
    }
    commands = [["db", "migrate"]]
    commands += [["pools", "set", name, str(n), about] for name, (n, about) in POOLS.items()]
    done = subprocess.run(
        [sys.executable, "-c", _AIRFLOW_CLI, json.dumps(commands)],
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode:
        raise RuntimeError(
            f"airflow {commands} failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
        )


def _sqlite_metadata_template() -> str:
    path = shared_run.folder() / "airflow-metadata.db"
    _migrate(shared_run.folder() / "airflow-sqlite-home", f"sqlite:///{path}")
    return str(path)


@pytest.fixture(scope="session")
def airflow_db():
    """Airflow's own metadata database for in-process runs (SQLite, with the pools).

    Migrated once per run and copied into each process's Airflow home.
    """
    shutil.copyfile(
        shared_run.once("airflow-sqlite", _sqlite_metadata_template), _AIRFLOW_HOME / "airflow.db"
    )


@pytest.fixture(scope="session")
def airflow_metadata(postgres_url) -> str:
    """The name of a migrated Airflow metadata database on PostgreSQL, to copy per test."""

    def migrate() -> str:
        name = new_database_name("airflow")
        url = postgres_server.create_database(postgres_url, name)
        _migrate(shared_run.folder() / "airflow-postgres-home", url)
        return name

    return shared_run.once("airflow-postgres-template", migrate)


@pytest.fixture
def start_airflow(request, tmp_path, postgres_url, airflow_metadata):
    """Start a real Airflow (:class:`AirflowServices` options) on a copy of the metadata DB.

    The services see the test's environment as it is when they start (``calm_db`` and
    ``wonde_default`` included). They are stopped after the test, printing their log tails
    when it failed, and their metadata database is dropped.
    """
    started: list[tuple[AirflowServices, str]] = []
    failed_before = request.session.testsfailed

    def start(**options) -> AirflowServices:
        name = new_database_name("airflow")
        url = postgres_server.create_database(postgres_url, name, template=airflow_metadata)
        services = AirflowServices(
            tmp_path / f"airflow-{len(started)}", metadata_url=url, migrated=True, **options
        )
        started.append((services, name))
        return services.start()

    yield start
    for services, name in started:
        services.stop(show_logs=request.session.testsfailed > failed_before)
        postgres_server.drop_database(postgres_url, name)


# -- the Wonde emulator -------------------------------------------------------------------


@pytest.fixture
def control(emu) -> EmulatorControl:
    """The control API of the test's emulator (the ``emu`` fixture of its folder or module)."""
    return EmulatorControl(emu)


@pytest.fixture
def start_emulator(monkeypatch):
    """Start an in-process Wonde emulator and point ``wonde_default`` at it."""
    from wonde_emulator import Emulator

    started = []

    def start(token: str = "test-app-token", **options):
        emu = Emulator(token=token, port=0, **options)
        emu.start()
        started.append(emu)
        monkeypatch.setenv(
            "AIRFLOW_CONN_WONDE_DEFAULT",
            json.dumps(
                {
                    "conn_type": "http",
                    "host": emu.api_url,
                    "extra": {"Authorization": f"Bearer {token}"},
                }
            ),
        )
        return emu

    yield start
    for emu in started:
        emu.stop()
