"""Shared fixtures: a real store on SQLite and on PostgreSQL, the real datasets, the sample.

Every test that takes ``engine`` runs twice, once per backend.  PostgreSQL tests use a fresh
database created for this test run and dropped after it.  Without a reachable server they
are skipped, unless CRM_REQUIRE_POSTGRES=1 (set by .ci/run), where that is an error.

Set CRM_TEST_POSTGRES_URL to use another server, CRM_DATASETS_DIR to point at the shared
datasets (default: ../shared/data next to the checkout).
"""

from __future__ import annotations

import os

# Test workers run side by side (pytest-xdist, one per core): OpenMP pools inside scikit-learn
# (gradient boosting) would each grab every core and spin against each other, making the suite
# many times slower.  One thread per worker; set before anything loads scikit-learn.
os.environ.setdefault("OMP_NUM_THREADS", "1")
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from db import migrate
from db.engine import make_engine
from db.schema import metadata

ROOT = Path(__file__).resolve().parent.parent
DATASETS = Path(os.environ.get("CRM_DATASETS_DIR", ROOT.parent / "shared" / "data"))
SLACK_PAYLOADS = Path(os.environ.get("CRM_SLACK_PAYLOADS_DIR", ROOT.parent / "shared" / "slack-payloads"))
POSTGRES_ADMIN_URL = os.environ.get("CRM_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REQUIRE_POSTGRES = os.environ.get("CRM_REQUIRE_POSTGRES") == "1"
BACKENDS = ("sqlite", "postgresql")


def _admin_engine() -> Engine:
    return create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test run, dropped at the end."""
    yield from _fresh_postgres_database("main")


def _fresh_postgres_database(purpose: str) -> Iterator[str]:
    admin = _admin_engine()
    try:
        with admin.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:
        admin.dispose()
        if REQUIRE_POSTGRES:
            pytest.fail(f"PostgreSQL is required (CRM_REQUIRE_POSTGRES=1) but unreachable at "
                        f"{POSTGRES_ADMIN_URL}: {exc}")
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_ADMIN_URL} ({type(exc).__name__}); "
                    "set CRM_TEST_POSTGRES_URL")
    name = f"crm_bot_test_{purpose}_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def migrated_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated once; each test copies it (much faster than migrating again)."""
    path = tmp_path_factory.mktemp("template") / "store.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def migrated_postgres(postgres_server_url: str) -> str:
    engine = make_engine(postgres_server_url)
    migrate.upgrade(engine)
    engine.dispose()
    return postgres_server_url


def _empty_postgres(url: str) -> Engine:
    engine = make_engine(url)
    tables = ", ".join(f'"{t.name}"' for t in reversed(metadata.sorted_tables))
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    return engine


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """URL of an empty, migrated store: one run per backend."""
    if request.param == "sqlite":
        template = request.getfixturevalue("migrated_sqlite_template")
        path = tmp_path / "store.db"
        shutil.copyfile(template, path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("migrated_postgres")
    _empty_postgres(url).dispose()
    return url


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """An engine on an empty, migrated store (SQLite and PostgreSQL)."""
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session", params=BACKENDS)
def sample_store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """A store holding the bundled demo sample, imported once per backend per test run.

    Shared by many tests: use it read-only (or roll back what you change).
    """
    from db.importers import ImportOptions, import_file
    from db.sample import ONLINE_RETAIL_SAMPLE

    folder = tmp_path_factory.mktemp("sample-store")
    databases = _fresh_postgres_database("sample") if request.param == "postgresql" else iter(
        [f"sqlite:///{folder / 'sample.db'}"])
    url = next(databases)
    engine = make_engine(url)
    migrate.upgrade(engine)
    import_file(engine, "online-retail", ONLINE_RETAIL_SAMPLE, ImportOptions(reject_dir=folder))
    yield engine
    engine.dispose()
    for _ in databases:  # drops the PostgreSQL database
        pass


@pytest.fixture(scope="session")
def datasets() -> Path:
    """The shared real datasets; tests needing them skip only where the folder is absent."""
    if not DATASETS.is_dir():
        pytest.skip(f"shared datasets not found at {DATASETS} (set CRM_DATASETS_DIR)")
    return DATASETS


@pytest.fixture(scope="session")
def online_retail_path(datasets: Path) -> Path:
    return datasets / "online-retail" / "online_retail.csv.gz"


@pytest.fixture(scope="session")
def slack_payloads() -> Path:
    """Real Slack request and response shapes; tests needing them skip only where the folder is absent."""
    if not SLACK_PAYLOADS.is_dir():
        pytest.skip(f"Slack payload samples not found at {SLACK_PAYLOADS} (set CRM_SLACK_PAYLOADS_DIR)")
    return SLACK_PAYLOADS
