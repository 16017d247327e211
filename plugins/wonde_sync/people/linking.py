"""Linking hand-made records to the Wonde people they are: matched on first sight, one to one."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from wonde_sync.core.vocabulary import WONDE_SOURCE

#: The change log's reason for a link, by the field that matched.
LINK_REASONS = {"email": "linked_by_email", "mis_id": "linked_by_mis_id"}


def find_links(
    conn: Connection, target: sa.Table, staging: sa.Table, mine, site_id: str
) -> dict[int, tuple[str, str]]:
    """Hand-made records that are the same person as a newly seen Wonde record, as
    {record id: (Wonde id, reason)}.

    A match is on the email (case-insensitive), else on the MIS id, and only when it is
    one-to-one, so two people sharing an address are never merged.
    """
    newcomers = conn.execute(
        sa.select(staging.c.external_id, staging.c.email, staging.c.mis_id).where(
            mine,
            staging.c.desired_status == "active",
            ~sa.exists().where(
                target.c.site_id == site_id,
                target.c.source == WONDE_SOURCE,
                target.c.external_id == staging.c.external_id,
            ),
        )
    ).all()
    if not newcomers:
        return {}
    hand_made = conn.execute(
        sa.select(target.c.id, sa.func.lower(target.c.email).label("email"), target.c.mis_id).where(
            target.c.site_id == site_id, target.c.source != WONDE_SOURCE
        )
    ).all()
    if not hand_made:
        return {}
    links: dict[int, tuple[str, str]] = {}
    for key, reason in LINK_REASONS.items():
        taken = {ext_id for ext_id, _ in links.values()}
        theirs = _one_to_one(
            (getattr(r, key), r.external_id) for r in newcomers if r.external_id not in taken
        )
        ours = _one_to_one((getattr(r, key), r.id) for r in hand_made if r.id not in links)
        for value, ext_id in theirs.items():
            if value in ours:
                links[int(ours[value])] = (ext_id, reason)
    return links


def _one_to_one(pairs: Iterable[tuple]) -> dict:
    """{value: id} for the values that occur exactly once (a shared value matches nobody)."""
    pairs = [(value, key) for value, key in pairs if value is not None]
    counts = Counter(value for value, _ in pairs)
    return {value: key for value, key in pairs if counts[value] == 1}


def link(conn: Connection, target: sa.Table, links: dict[int, tuple[str, str]]) -> None:
    """Make the linked records Wonde's, keeping where each came from."""
    if not links:
        return
    conn.execute(
        sa.update(target)
        .where(target.c.id == sa.bindparam("target_id"))
        .values(
            source=WONDE_SOURCE,
            external_id=sa.bindparam("ext_id"),
            linked_from_source=target.c.source,
        ),
        [{"target_id": k, "ext_id": ext_id} for k, (ext_id, _) in links.items()],
    )
