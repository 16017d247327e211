"""Alembic's entry point: runs the revisions on the connection :func:`upgrade` hands over."""

from alembic import context

from wonde_sync.core.migrations import VERSION_TABLE

_attributes = context.config.attributes
if "connection" not in _attributes:
    # Adoption of pre-Alembic databases and the upgrade lock live in the runner.
    raise RuntimeError("Upgrade calm_db with `python -m wonde_sync init-db`.")
context.configure(
    connection=_attributes["connection"],
    version_table=VERSION_TABLE,
    on_version_apply=_attributes["on_version_apply"],
    # The runner holds one transaction around the whole upgrade, on SQLite too.
    transactional_ddl=True,
)
context.run_migrations()
