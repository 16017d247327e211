"""Linking hand-made records to the Wonde people they are: matched on first sight, one to one."""

from __future__ import annotations

import pandas as pd
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
    newcomers = pd.DataFrame(
        conn.execute(
            sa.select(staging.c.external_id, staging.c.email, staging.c.mis_id).where(
                mine,
                staging.c.desired_status == "active",
                ~sa.exists().where(
                    target.c.site_id == site_id,
                    target.c.source == WONDE_SOURCE,
                    target.c.external_id == staging.c.external_id,
                ),
            )
        ).all(),
        columns=["external_id", "email", "mis_id"],
    )
    if newcomers.empty:
        return {}
    hand_made = pd.DataFrame(
        conn.execute(
            sa.select(target.c.id, sa.func.lower(target.c.email), target.c.mis_id).where(
                target.c.site_id == site_id, target.c.source != WONDE_SOURCE
            )
        ).all(),
        columns=["id", "email", "mis_id"],
    )
    if hand_made.empty:
        return {}
    links: dict[int, tuple[str, str]] = {}
    for key, reason in LINK_REASONS.items():
        taken = {ext_id for ext_id, _ in links.values()}
        left = newcomers[newcomers[key].notna() & ~newcomers["external_id"].isin(taken)]
        right = hand_made[hand_made[key].notna() & ~hand_made["id"].isin(links.keys())]
        left = left.drop_duplicates(key, keep=False)
        right = right.drop_duplicates(key, keep=False)
        for row in left.merge(right, on=key, suffixes=("", "_hand")).itertuples():
            links[int(row.id)] = (row.external_id, reason)
    return links


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
