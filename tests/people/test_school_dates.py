"""Leaving and end dates are calendar dates, compared with today in the school's time zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from tests.support.import_targets import catalog_target
from wonde_sync.core.database import table
from wonde_sync.people import transforms as pt
from wonde_sync.people.importer import ImportOptions, import_site

SUMMER = datetime(2026, 7, 15, 10, 0, tzinfo=UTC)  # 11:00 BST
WINTER = datetime(2026, 1, 15, 10, 0, tzinfo=UTC)  # 10:00 GMT


def london_midnight(day: date) -> dict:
    """A calendar date as Wonde sends it."""
    return {
        "date": f"{day:%Y-%m-%d} 00:00:00.000000",
        "timezone_type": 3,
        "timezone": "Europe/London",
    }


def leaver(record_type: str, ext_id: str, end: date) -> dict:
    if record_type == "employee":
        details = {
            "employment_details": {
                "data": {"current": True, "employment_end_date": london_midnight(end)}
            }
        }
    else:
        details = {"education_details": {"data": {"leaving_date": london_midnight(end)}}}
    return {"id": ext_id, "forename": "Ann", "surname": "Ní Bhriain", **details}


@pytest.mark.parametrize("record_type", ["employee", "student"])
@pytest.mark.parametrize("now", [SUMMER, WINTER], ids=["BST", "GMT"])
def test_a_leaving_date_of_today_is_not_left_and_yesterday_is(record_type, now):
    today = now.date()
    rows = pt.people_rows(
        [
            leaver(record_type, "today", today),
            leaver(record_type, "yesterday", today - timedelta(days=1)),
            leaver(record_type, "tomorrow", today + timedelta(days=1)),
        ],
        record_type,
    )
    reasons = pt.filter_reasons(rows, record_type, pt.today_in("Europe/London", now))
    assert reasons == ["", "left", ""]


def test_today_is_the_calendar_day_in_the_zone():
    late_summer_evening = datetime(2026, 7, 15, 23, 30, tzinfo=UTC)  # 00:30 BST on the 16th
    assert pt.today_in("Europe/London", late_summer_evening).date() == date(2026, 7, 16)
    assert pt.today_in("Europe/London", WINTER).date() == date(2026, 1, 15)
    assert pt.today_in("Pacific/Auckland", SUMMER).date() == date(2026, 7, 15)
    assert pt.today_in("America/New_York", datetime(2026, 1, 15, 3, tzinfo=UTC)).date() == date(
        2026, 1, 14
    )
    # No zone, or one this machine does not know: the UK's.
    assert pt.today_in(None, late_summer_evening) == pt.today_in(
        "Europe/London", late_summer_evening
    )
    assert pt.today_in("Mars/Olympus", late_summer_evening).date() == date(2026, 7, 16)
    naive = datetime(2026, 7, 15, 23, 30)  # read as UTC
    assert pt.today_in("Europe/London", naive).date() == date(2026, 7, 16)


def test_a_utc_today_still_works_as_before():
    rows = pt.people_rows([leaver("employee", "x", date(2026, 1, 14))], "employee")
    assert pt.filter_reasons(rows, "employee", datetime(2026, 1, 15, tzinfo=UTC)) == ["left"]
    # A zone-naive today is read as UTC.
    assert pt.filter_reasons(rows, "employee", datetime(2026, 1, 14)) == [""]


def set_school_timezone(world, school_id: str, zone: str | None) -> None:
    schools = table("wonde_schools")
    with world.engine.begin() as conn:
        conn.execute(sa.update(schools).where(schools.c.id == school_id).values(timezone=zone))


@pytest.mark.parametrize(
    ("zone", "now", "left"),
    [
        ("Europe/London", SUMMER, [True, False, False]),
        ("Europe/London", WINTER, [True, False, False]),
        (None, SUMMER, [True, False, False]),
        # At 13:00 UTC on 15 July it is already the 16th in Auckland: the 15th was yesterday.
        ("Pacific/Auckland", datetime(2026, 7, 15, 13, 0, tzinfo=UTC), [True, True, False]),
    ],
    ids=["London-BST", "London-GMT", "no-zone", "Auckland"],
)
def test_an_import_reads_dates_in_the_school_zone(world, zone, now, left):
    """Staff and a pupil whose end dates are the day before, the day of and after ``now``."""
    target, control = world.targets[0], world.control
    school = target.school_id
    set_school_timezone(world, school, zone)
    target = catalog_target(world.engine, target.site_id, school, target.school_token)
    staff = [p["id"] for p in world.truth(school) if p["mis_status"] == "active"][:3]
    pupils = [p["id"] for p in world.truth(school, "student") if p["mis_status"] == "active"][:3]
    for offset, (person, pupil) in enumerate(zip(staff, pupils, strict=True), start=-1):
        end = f"{now + timedelta(days=offset):%Y-%m-%d}"
        control.edit_person(school, person, end_date=end)
        control.edit_person(school, pupil, kind="student", end_date=end)

    summary = import_site(world.engine, world.client, target, ImportOptions(as_of=now))

    with world.engine.connect() as conn:
        imported = {
            name: set(conn.execute(sa.select(table(name).c.external_id)).scalars())
            for name in ("personnel", "pupils")
        }
    # A leaver is filtered out on the first import, so never created.
    assert [p not in imported["personnel"] for p in staff] == left
    assert [p not in imported["pupils"] for p in pupils] == left
    leavers = sum(p["mis_status"] == "left" for p in world.truth(school))
    assert summary["filtered"]["employee"]["left"] == leavers + sum(left)
