"""The Alembic history builds, on each backend, the schema the SQL files built."""

from __future__ import annotations

from tests.core import legacy_schema
from tests.core.schema_state import describe, history_until
from wonde_sync.core import migrations
from wonde_sync.core.migrations import LEGACY_FILES


def test_history_builds_the_schema_of_the_sql_files(bare_engine, other_engine, tmp_path):
    # The SQL files stop at 003; the revisions after it are checked by the adoption tests.
    legacy_schema.create(other_engine)
    migrations.upgrade(bare_engine, history_until(tmp_path, LEGACY_FILES[-1].removesuffix(".sql")))

    built, legacy = describe(bare_engine), describe(other_engine)
    assert built["tables"].keys() == legacy["tables"].keys()
    for name, table in built["tables"].items():
        assert table == legacy["tables"][name], name
    assert built["indexes"] == legacy["indexes"]


def test_description_sees_expression_indexes(other_engine):
    # The comparison above is only as good as what describe() reads back.
    legacy_schema.create(other_engine)
    indexes = describe(other_engine)["indexes"]
    email = indexes["personnel_site_email_idx"]
    name = indexes["wonde_schools_name_idx"]
    if other_engine.dialect.name == "postgresql":
        assert "lower(email)" in email
        assert "text_pattern_ops" in name
    else:
        assert "lower(email)" in email[1]
        assert any(row[4] == "NOCASE" for row in name[2])
