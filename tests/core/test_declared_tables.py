"""The tables the code declares are the tables the migration history makes."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.core.schema_state import BOOKKEEPING
from wonde_sync.core import tables
from wonde_sync.core.database import table


def _shape(dialect, columns, primary_key, uniques, foreign_keys) -> dict:
    keyed = set(primary_key)
    return {
        "columns": [
            # Key columns' NOT NULL differs by backend and by revision; the key enforces it.
            (name, type_.compile(dialect), nullable or name in keyed)
            for name, type_, nullable in columns
        ],
        "primary_key": sorted(primary_key),
        "unique": sorted(tuple(sorted(u)) for u in uniques),
        "foreign_keys": sorted(foreign_keys),
    }


def _reflected(conn, inspector, name: str) -> dict:
    return _shape(
        conn.dialect,
        [(c["name"], c["type"], c["nullable"]) for c in inspector.get_columns(name)],
        inspector.get_pk_constraint(name)["constrained_columns"],
        [u["column_names"] for u in inspector.get_unique_constraints(name)],
        [
            (col, f"{fk['referred_table']}.{ref}")
            for fk in inspector.get_foreign_keys(name)
            for col, ref in zip(fk["constrained_columns"], fk["referred_columns"], strict=True)
        ],
    )


def _declared(dialect, declared: sa.Table) -> dict:
    return _shape(
        dialect,
        [(c.name, c.type, c.nullable) for c in declared.columns],
        [c.name for c in declared.primary_key.columns],
        [
            [c.name for c in u.columns]
            for u in declared.constraints
            if isinstance(u, sa.UniqueConstraint)
        ],
        [(fk.parent.name, fk.target_fullname) for fk in declared.foreign_keys],
    )


# Expression indexes (lower(email)) are not reflected on SQLite, nor needed here.
@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection")
def test_declared_tables_match_the_migrated_schema(engine):
    with engine.connect() as conn:
        inspector = sa.inspect(conn)
        names = set(inspector.get_table_names()) - BOOKKEEPING
        assert names == set(tables.metadata.tables)
        for name in sorted(names):
            reflected = _reflected(conn, inspector, name)
            assert _declared(conn.dialect, tables.metadata.tables[name]) == reflected, name


def test_an_unknown_table_is_named_in_the_error():
    with pytest.raises(KeyError, match="wonde_nonexistent"):
        table("wonde_nonexistent")
