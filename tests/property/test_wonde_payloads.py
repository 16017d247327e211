"""Properties of what Wonde sends: people, deletions, schools, page links, Retry-After.

Whatever shape the API allows (fields missing or null, names in any script, odd emails,
PHP date objects, records listed twice), the transforms give one row per record with the
documented normalisation, and the client's helpers answer or raise their documented error.
"""

from __future__ import annotations

import copy
import unicodedata
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from tests.property import wonde_shapes as shapes
from wonde_sync.catalog.rows import CATALOG_COLUMNS, school_row
from wonde_sync.people import transforms
from wonde_sync.wonde.errors import WondeResponseError
from wonde_sync.wonde.objects import dig, storable_text, wonde_date
from wonde_sync.wonde.paging import follow_pages, next_page_url
from wonde_sync.wonde.retries import parse_retry_after

EMAIL_ORDER = ("work", "primary", "email", "home")
NAME_COLUMNS = ("external_id", "mis_id", "forename", "surname")
#: What a person's row holds in CalmCompliance besides its key (the hash's content).
IMPORTED = ("mis_id", "forename", "surname", "email", "year_group")
DETAILS = {shapes.EMPLOYEE: "employment_details", shapes.STUDENT: "education_details"}
record_types = st.sampled_from(shapes.RECORD_TYPES)


@st.composite
def batches(draw, strings=shapes.names):
    """A record type and a page of its Wonde objects."""
    record_type = draw(record_types)
    return record_type, draw(st.lists(shapes.people(record_type, strings=strings), max_size=5))


def _is_clean(value) -> bool:
    """NFC, trimmed, and whitespace inside collapsed to single spaces."""
    return (
        isinstance(value, str)
        and value != ""
        and unicodedata.is_normalized("NFC", value)
        and value == " ".join(value.split())
    )


def _expected_email(record: dict) -> str | None:
    emails = dig(record, "contact_details", "data", "emails")
    if not isinstance(emails, dict):
        return None
    given = [emails.get(key) for key in EMAIL_ORDER]
    raw = next((v for v in given if isinstance(v, str) and v.strip()), None)
    return raw.strip().lower() if raw else None


def _well_formed(email: str) -> bool:
    local, _, domain = email.rpartition("@")
    return (
        bool(local)
        and "@" not in local
        and not any(c.isspace() for c in email)
        and "." in domain[1:-1]
    )


# -- people -------------------------------------------------------------------------------


@given(batches())
def test_people_rows_have_one_normalised_row_per_object(batch):
    record_type, records = batch
    rows = transforms.people_rows(records, record_type)
    assert len(rows) == len(records)
    assert all(set(transforms.PEOPLE_COLUMNS) <= set(row) for row in rows)
    for record, row in zip(records, rows, strict=True):
        for column in NAME_COLUMNS:
            raw, value = record.get(column.replace("external_", "")), row[column]
            assert value is None or _is_clean(value), (column, value)
            if raw is not None:
                # Nothing is lost but spacing and what no database holds: the same words, in NFC.
                words = unicodedata.normalize("NFC", storable_text(str(raw))).split()
                assert (value or "").split() == words
        assert row["email"] == _expected_email(record)
        status = dig(record, DETAILS[record_type], "data", "status")
        expected = (status or "").lower() or None
        assert row["mis_status"] == expected


full_emails = st.fixed_dictionaries({key: shapes.addresses for key in EMAIL_ORDER})


@given(record_types, st.lists(full_emails, min_size=1, max_size=5))
def test_the_email_is_work_then_primary_then_the_others(record_type, addresses):
    records = [
        {"id": f"A{n}", "forename": "Ann", "contact_details": {"data": {"emails": emails}}}
        for n, emails in enumerate(addresses)
    ]
    emails = [row["email"] for row in transforms.people_rows(records, record_type)]
    assert emails == [_expected_email(r) for r in records]
    for email in emails:
        assert transforms.invalid_email(email) == (email is not None and not _well_formed(email)), (
            email
        )


@given(batches())
def test_invalid_emails_flags_exactly_the_malformed_ones(batch):
    for row in transforms.people_rows(batch[1], batch[0]):
        email, bad = row["email"], transforms.invalid_email(row["email"])
        if email is None:
            assert not bad
        else:
            assert email == email.strip().lower()
            assert bad == (not _well_formed(email)), email


@given(st.lists(batches(), min_size=1, max_size=3), st.sets(shapes.wonde_ids, max_size=3))
def test_rejection_reasons_flag_missing_ids_names_and_duplicates(pages, earlier_ids):
    """Pages of one run share ``seen``: a person listed twice is imported once."""
    seen = {i.strip() for i in earlier_ids if i.strip()}
    before, imported = set(seen), []
    met: set[str] = set(seen)
    for record_type, records in pages:
        rows = transforms.people_rows(records, record_type)
        reasons = transforms.rejection_reasons(rows, seen)
        for row, reason in zip(rows, reasons, strict=True):
            ext_id = row["external_id"]
            if ext_id is None:
                assert reason == "missing_id"
            elif ext_id in met:
                assert reason == "duplicate_id"
            elif row["forename"] is None and row["surname"] is None:
                assert reason == "missing_name"
            else:
                assert reason == ""
                imported.append(ext_id)
            if ext_id is not None:
                met.add(ext_id)
    assert len(imported) == len(set(imported))
    assert seen == met and before <= seen


@given(
    st.sampled_from(shapes.RECORD_TYPES).flatmap(
        lambda t: st.tuples(st.just(t), st.lists(shapes.deletions(t), max_size=5))
    )
)
def test_deletions_keep_exactly_the_unrestored_people(batch):
    record_type, records = batch
    rows = transforms.deletion_rows(records, record_type)
    wanted = [r["id"] for r in records if r.get("id") and not r.get("restored_at")]
    assert [row["external_id"] for row in rows] == wanted
    assert all(row["deleted"] for row in rows)
    # Deleted people need no name: only a missing id or a repeat rejects them.
    reasons = transforms.rejection_reasons(rows, set())
    assert "missing_name" not in set(reasons)


@given(record_types, shapes.wonde_ids.filter(str.strip))
def test_a_deletion_of_unstated_type_counts(record_type, wonde_id):
    entry = {"id": wonde_id, "type": None, "restored_at": None}
    rows = transforms.deletion_rows([entry], record_type)
    assert [row["external_id"] for row in rows] == [wonde_id]


@given(batches(), st.data())
def test_content_hash_changes_iff_imported_content_changes(batch, data):
    record_type, records = batch
    changed = copy.deepcopy(records)
    for record in changed:
        # Fields that are not imported content: the hash must not see them.
        record["updated_at"] = {"date": "2031-01-01 00:00:00.000000", "timezone": "UTC"}
        record["gender"] = "FEMALE"
        record.pop("upi", None)
        if data.draw(st.booleans(), label="rename"):
            record["forename"] = data.draw(shapes.names, label="new forename")
    rows = transforms.people_rows(records + changed, record_type)
    hashes = [transforms.content_hash(row) for row in rows]
    again = transforms.people_rows(copy.deepcopy(records), record_type)
    assert hashes[: len(records)] == [transforms.content_hash(row) for row in again]
    contents = [tuple(row[c] for c in IMPORTED) for row in rows]
    for i in range(len(rows)):
        for j in range(len(rows)):
            assert (hashes[i] == hashes[j]) == (contents[i] == contents[j]), (i, j)


@given(batches(strings=shapes.stored_text))
def test_transformed_text_can_be_stored(batch):
    rows = transforms.people_rows(batch[1], batch[0])
    for row in rows:
        transforms.content_hash(row)
    for column in (*NAME_COLUMNS, "email"):
        for value in filter(None, (row[column] for row in rows)):
            assert "\x00" not in value
            value.encode("utf-8")


@given(st.sampled_from([" ", "\t", " \n "]), shapes.good_addresses)
def test_a_blank_address_falls_back_to_the_next(blank, primary):
    record = {"id": "A1", "forename": "Ann", "contact_details": {"data": {"emails": {}}}}
    record["contact_details"]["data"]["emails"] = {"work": blank, "primary": primary}
    rows = transforms.people_rows([record], shapes.EMPLOYEE)
    assert rows[0]["email"] == primary.lower()


# -- Wonde date objects -------------------------------------------------------------------


def _plain_wall_time(wall: datetime, zone: str) -> bool:
    """Whether ``wall`` happens exactly once in ``zone`` (not skipped, not repeated)."""
    if zone.startswith(("+", "-")) or wall.year > 2261:  # pandas' last year is 2262
        return wall.year <= 2261
    first, second = (wall.replace(tzinfo=ZoneInfo(zone), fold=f) for f in (0, 1))
    back = first.astimezone(UTC).astimezone(ZoneInfo(zone)).replace(tzinfo=None)
    return first.utcoffset() == second.utcoffset() and back == wall


@given(shapes.date_objects)
def test_date_objects_become_utc_timestamps(value):
    stamp = wonde_date(value)
    if value is None:
        assert stamp is None
        return
    wall = datetime.strptime(value["date"][:19], "%Y-%m-%d %H:%M:%S")
    if _plain_wall_time(wall, value["timezone"]):
        assert stamp is not None and str(stamp.tz) == "UTC"
        assert (
            stamp.tz_convert(value["timezone"]).to_pydatetime().replace(tzinfo=None, microsecond=0)
            == wall
        )


@given(st.sampled_from(["BST", "EST", "CEST", "Z", "Nowhere/Town"]))
def test_unknown_zones_do_not_stop_an_import(zone):
    end = {"date": "2024-07-01 00:00:00.000000", "timezone_type": 2, "timezone": zone}
    record = {"id": "A1", "forename": "Ann", "employment_details": {"data": {}}}
    record["employment_details"]["data"]["employment_end_date"] = end
    transforms.people_rows([record], shapes.EMPLOYEE)


@given(st.integers(2000, 2030), st.integers(0, 59))
def test_times_when_clocks_go_back_are_kept(year, minute):
    last_sunday = max(
        datetime(year, 10, d) for d in range(25, 32) if datetime(year, 10, d).weekday() == 6
    )
    wall = last_sunday.replace(hour=1, minute=minute)
    value = {"date": f"{wall:%Y-%m-%d %H:%M:%S}.000000", "timezone": "Europe/London"}
    assert wonde_date(value) is not None


# -- schools ------------------------------------------------------------------------------


def _text_of(value):
    return None if value is None else (str(value).strip() or None)


@given(st.lists(shapes.schools, max_size=10))
def test_school_rows_keep_ids_and_names_as_text(records):
    rows = [dict(zip(CATALOG_COLUMNS, school_row(r), strict=True)) for r in records]
    for record, row in zip(records, rows, strict=True):
        assert row["id"] == _text_of(record.get("id"))
        assert row["name"] == _text_of(record.get("name"))
        assert row["urn"] == _text_of(record.get("urn"))
        postcode = _text_of(dig(record, "address", "address_postcode"))
        assert row["postcode"] == (postcode.upper() if postcode else None)
        assert all(v is None or isinstance(v, str) for v in row.values())


@given(st.lists(st.fixed_dictionaries({"id": shapes.wonde_ids, "name": shapes.stored_text})))
def test_school_text_can_be_stored(records):
    names = [dict(zip(CATALOG_COLUMNS, school_row(r), strict=True))["name"] for r in records]
    for value in filter(None, names):
        assert "\x00" not in value
        value.encode("utf-8")


# -- paging -------------------------------------------------------------------------------

current_urls = st.one_of(shapes.links, st.just("https://api.wonde.com/v1.0/schools"))


@given(current_urls, shapes.pagination_meta)
def test_next_page_url_answers_or_refuses_cleanly(current, meta):
    try:
        found = next_page_url(current, {"meta": meta}, str)
    except WondeResponseError:
        return
    assert found is None or isinstance(found, str)
    pagination = meta.get("pagination") if isinstance(meta, dict) else None
    if not isinstance(pagination, dict) or pagination.get("more") is False:
        assert found is None
    if found is not None and current.startswith("https://"):
        assert found.startswith("https://")


@given(current_urls, shapes.links, st.sampled_from([False, None, {}]))
def test_the_last_page_has_no_next(current, link, more):
    """``more: false`` ends the list whatever ``next`` says; so does a missing ``next``."""
    pagination = {"next": link, "more": more} if more is False else {"next": more or None}
    assert next_page_url(current, {"meta": {"pagination": pagination}}, str) is None


@given(current_urls, shapes.urls)
def test_odd_next_links_are_followed_or_refused(current, link):
    try:
        found = next_page_url(current, {"meta": {"pagination": {"next": link}}}, str)
    except WondeResponseError as exc:
        assert exc.method == "GET"
        return
    assert isinstance(found, str)


@given(
    st.from_regex(
        r"https://api(-[a-z0-9-]{1,12})?\.wonde\.com/v1\.0/[a-z/]{0,20}\?page=[0-9]{1,4}",
        fullmatch=True,
    )
)
def test_absolute_next_links_are_followed_verbatim(link):
    meta = {"pagination": {"next": link, "more": True}}
    assert next_page_url("https://api.wonde.com/v1.0/schools", {"meta": meta}, str) == link


@given(st.lists(st.lists(st.integers(), max_size=3), min_size=1, max_size=6), st.booleans())
def test_follow_pages_reads_each_page_once_in_order(page_records, loop):
    links = [f"https://api.wonde.com/v1.0/x?page={n + 1}" for n in range(len(page_records))]
    ends = [*links[1:], links[0] if loop else None]
    bodies = {
        link: {"data": [{"n": v} for v in records], "meta": {"pagination": {"next": end}}}
        for link, records, end in zip(links, page_records, ends, strict=True)
    }
    read = []
    try:
        for page in follow_pages(bodies.__getitem__, links[0], str):
            read.append([r["n"] for r in page.records])
    except WondeResponseError:
        assert loop
    else:
        assert not loop
    assert read == page_records


# -- Retry-After --------------------------------------------------------------------------


@given(st.one_of(st.none(), shapes.text, st.from_regex(r"[0-9.eE+-]{1,8}", fullmatch=True)))
def test_retry_after_is_none_or_a_finite_wait(value):
    seconds = parse_retry_after(value)
    assert seconds is None or (seconds >= 0 and seconds != float("inf"))


@given(st.integers(0, 10**9))
def test_retry_after_seconds_are_read_as_given(seconds):
    assert parse_retry_after(str(seconds)) == seconds


@given(st.integers(-(10**6), 10**6))
def test_retry_after_dates_count_from_now(offset):
    assume(abs(offset) > 5)
    when = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=offset)
    seconds = parse_retry_after(format_datetime(when, usegmt=True))
    assert seconds == pytest.approx(max(offset, 0), abs=3)
