"""Reading one school's staff or pupils from Wonde and staging them, page by page.

Wonde's lists are offset pages, so a person deleted or restored in the MIS while an import
is paging shifts every later page by one: someone is skipped, or read twice. What keeps an
import right anyway:

* The deletions feed is read before the list and, unless the list was empty (then nothing
  could shift), again after it. Any difference means the MIS changed during the read
  (``Tally.drift``), and so does a person stamped as updated
  after the run started. A deletion that appeared meanwhile wins over the list (the person
  was listed before being deleted); a person restored meanwhile may have been skipped, so
  is looked up on their own.
* A record read twice with the same content is a page overlap: it is counted once.
* After a full fetch the importer looks up, one by one, each person it would archive as
  absent (``confirm_absent``): only Wonde's 404 archives them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.engine import Engine

from wonde_sync.people import store as people_store
from wonde_sync.people import transforms as pt
from wonde_sync.wonde.errors import WondeNotFoundError, WondeResponseError

#: What a fingerprint of a listed person covers: what is imported and what filters them.
_FINGERPRINT = [*pt.PEOPLE_COLUMNS, "mis_status", "current", "end_date"]


@dataclass
class Tally:
    """What reading one record type gave: counts, record issues, and signs of drift."""

    fetched: int = 0
    rejected: int = 0
    #: Rows staged (people and deletions); none: an incremental has nothing to apply.
    staged: int = 0
    filtered: Counter = field(default_factory=Counter)
    issues: list[tuple] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)
    #: Whether the MIS changed while its pages were read (pages may have shifted).
    drift: bool = False
    #: People missing from the list whom an individual lookup found.
    found: int = 0
    #: Records read twice, identical (counted once).
    repeats: int = 0
    prints: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Feed:
    """One record type of one school, read for one run."""

    engine: Engine
    client: object
    run_id: int
    school_id: str
    record_type: str
    path: str
    include: str
    since: datetime | None
    started_at: datetime
    today: datetime

    def params(self, **extra: str) -> dict:
        """Query parameters of a list request (with the window of an incremental)."""
        if self.since is not None:
            extra["updated_after"] = self.since.strftime("%Y-%m-%d %H:%M:%S")
        return extra


def fetch_and_stage(feed: Feed) -> Tally:
    """Read the list and the deletions feed of ``feed`` and stage everyone in them."""
    tally = Tally()
    first_read = [page.records for page in _deletion_pages(feed) if page.records]
    before: dict[str, str | None] = {}
    for records in first_read:
        before.update(_marks(records, feed.record_type))
    # Wonde stamps whole seconds, so a change in the run's first second counts as before it.
    start = feed.started_at.replace(microsecond=0)
    path = f"schools/{feed.school_id}/{feed.path}"
    listed = False
    for page in feed.client.iter_pages(path, feed.params(include=feed.include)):
        listed = listed or bool(page.records)
        rows = _without_repeats(pt.people_rows(page.records, feed.record_type), tally)
        tally.fetched += len(rows)
        if any(r["updated_at"] is not None and r["updated_at"] > start for r in rows):
            tally.drift = True
        stage_rows(feed, rows, tally)
    # An empty list has no pages to shift, so the first read of the deletions feed stands:
    # whatever the MIS deletes or restores from now on is after this run's start, inside
    # the next run's window. (An incremental that finds nobody changed sends one request less.)
    second_read = (
        (page.records for page in _deletion_pages(feed) if page.records) if listed else first_read
    )
    after: dict[str, str | None] = {}
    restored: list[str] = []
    for records in second_read:
        marks = _marks(records, feed.record_type)
        after.update(marks)
        rows = pt.deletion_rows(records, feed.record_type)
        # Someone listed above is alive in the MIS whatever an older deletion says; a
        # deletion made since the list was read is newer than the list.
        fresh = {
            r["external_id"]
            for r in rows
            if r["external_id"] in tally.seen
            and (r["external_id"] not in before or before[r["external_id"]] is not None)
        }
        if fresh:
            was = people_store.unstage(feed.engine, feed.run_id, feed.record_type, fresh)
            tally.filtered.subtract(reason for reason in was if reason)
            tally.filtered = +tally.filtered  # drop the reasons counted down to zero
            tally.seen -= fresh
        stage_rows(feed, [r for r in rows if r["external_id"] not in tally.seen], tally)
        restored += [i for i, mark in marks.items() if mark and before.get(i) != mark]
    if after != before:
        tally.drift = True
    for external_id in restored:
        if external_id not in tally.seen:
            look_up(feed, external_id, tally)
    return tally


def confirm_absent(feed: Feed, tally: Tally, external_ids: Iterable[str]) -> int:
    """Look up each person a full fetch did not list; stage those Wonde still has.

    Returns how many Wonde answered 404 for (confirmed absent). Any other error stops the
    run: an archive needs evidence.
    """
    confirmed = 0
    for external_id in external_ids:
        if external_id not in tally.seen and not look_up(feed, external_id, tally):
            confirmed += 1
    return confirmed


def look_up(feed: Feed, external_id: str, tally: Tally) -> bool:
    """Fetch one person by id and stage them (drift: the list skipped them); False on 404."""
    path = f"schools/{feed.school_id}/{feed.path}/{external_id}"
    try:
        record = feed.client.get(path, {"include": feed.include})
    except WondeNotFoundError:
        return False
    if not isinstance(record, dict) or record.get("id") != external_id:
        raise WondeResponseError(
            f"Wonde GET {path} answered with another record than {external_id}",
            url=path,
            method="GET",
        )
    tally.fetched += 1
    tally.found += 1
    tally.drift = True
    stage_rows(feed, pt.people_rows([record], feed.record_type), tally)
    return True


def stage_rows(feed: Feed, rows: list[dict], tally: Tally) -> None:
    """Reject, clean, filter and stage rows of people (or deletions)."""
    if not rows:
        return
    record_type = feed.record_type
    kept = []
    for row, rejected in zip(rows, pt.rejection_reasons(rows, tally.seen), strict=True):
        if rejected:
            tally.issues.append((record_type, row["external_id"], rejected, None))
            tally.rejected += 1
            continue
        if pt.invalid_email(row["email"]):
            detail = f"imported without email: {row['email']!r}"
            tally.issues.append((record_type, row["external_id"], "invalid_email", detail))
            row["email"] = None
        kept.append(row)
    for row, reason in zip(kept, pt.filter_reasons(kept, record_type, feed.today), strict=True):
        row["reason"] = reason or None
        row["desired_status"] = "archived" if reason else "active"
        row["content_hash"] = pt.content_hash(row)
        if reason:
            tally.filtered[reason] += 1
    tally.staged += len(kept)
    people_store.stage(feed.engine, feed.run_id, record_type, kept)


def _without_repeats(rows: list[dict], tally: Tally) -> list[dict]:
    """The rows without records already read identically (a shifted page repeats one)."""
    kept = []
    for row in rows:
        ext_id = row["external_id"]
        mark = "\x1f".join("" if row[c] is None else str(row[c]) for c in _FINGERPRINT)
        if ext_id and tally.prints.get(ext_id) == mark:
            tally.repeats += 1
            continue
        if ext_id:
            tally.prints.setdefault(ext_id, mark)
        kept.append(row)
    return kept


def _deletion_pages(feed: Feed):
    params = feed.params(type=feed.record_type)
    return feed.client.iter_pages(f"schools/{feed.school_id}/deletions", params)


def _marks(records: list[dict], record_type: str) -> dict[str, str | None]:
    marks = {}
    for record in records:
        if record.get("id") and record.get("type", record_type) == record_type:
            restored = record.get("restored_at")
            marks[record["id"]] = restored.get("date") if isinstance(restored, dict) else None
    return marks
