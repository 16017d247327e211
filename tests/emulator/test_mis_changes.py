"""MIS changes that land between two page requests, and single-person lookups."""

from __future__ import annotations

import pytest
import requests


@pytest.fixture
def school(emu):
    """The first (approved and audited) school."""
    return emu.school_ids()[0]


def _ids(pages: list[dict]) -> list[str]:
    return [p["id"] for page in pages for p in page["data"]]


def test_a_deletion_after_page_one_shifts_the_later_pages(client, control, school):
    listed = _ids(client.pages(f"/schools/{school}/employees", per_page=5))
    gone = listed[1]
    change = control.change_after(1, "/employees", "delete", school, gone)
    assert (change["applied"], change["matched"]) == (False, 0)

    read = _ids(client.pages(f"/schools/{school}/employees", per_page=5))

    # Page 1 was read before the deletion; page 2 starts one person later than it did.
    assert gone in read[:5]
    assert listed[5] not in read
    assert len(read) == len(listed) - 1
    done = control.mis_changes()[0]
    assert (done["applied"], done["matched"], done["error"]) == (True, 1, None)
    feed = client.all(f"/schools/{school}/deletions", type="employee")
    assert [d["id"] for d in feed] == [gone] and feed[0]["restored_at"] is None


def test_a_restore_after_page_one_repeats_a_record(client, control, school):
    listed = _ids(client.pages(f"/schools/{school}/employees", per_page=5))
    back = listed[0]
    control.delete_person(school, back)
    control.change_after(1, "/employees", "restore", school, back)

    pages = client.pages(f"/schools/{school}/employees", per_page=5)
    read = _ids(pages)

    assert back not in read  # restored in front of the cursor: never listed in this read
    assert read.count(listed[5]) == 2  # the last of page 1 comes again first on page 2
    assert pages[1]["data"][0] == pages[0]["data"][-1]
    feed = client.all(f"/schools/{school}/deletions", type="employee")
    assert feed[0]["restored_at"] is not None


def test_a_change_waits_for_the_nth_answered_request_and_fires_once(client, control, school):
    person = client.all(f"/schools/{school}/students")[0]
    control.change_after(
        2, "/students", "edit", school, person["id"], kind="student", surname="Ní Bhriain"
    )
    control.fault(kind="status", status=503, path_contains="/students", times=1)
    assert client.get(f"/schools/{school}/students").status_code == 503  # not an answer
    assert client.get(f"/schools/{school}/employees").ok  # another path
    assert control.mis_changes()[0]["matched"] == 0
    client.get(f"/schools/{school}/students")
    assert control.mis_changes()[0]["applied"] is False
    client.get(f"/schools/{school}/students")
    truth = {p["id"]: p for p in control.people(school, "student")}
    assert truth[person["id"]]["surname"] == "Ní Bhriain"
    control.edit_person(school, person["id"], kind="student", surname="Other")
    client.get(f"/schools/{school}/students")
    truth = {p["id"]: p for p in control.people(school, "student")}
    assert truth[person["id"]]["surname"] == "Other"  # applied once, not again
    assert control.mis_changes()[0]["matched"] == 2


def test_a_change_that_no_longer_fits_is_recorded_not_raised(client, control, school):
    person = client.all(f"/schools/{school}/employees")[0]["id"]
    control.change_after(1, "/employees", "delete", school, person)
    control.delete_person(school, person)
    assert client.get(f"/schools/{school}/employees").ok
    assert "already deleted" in control.mis_changes()[0]["error"]
    control.clear_mis_changes()
    assert control.mis_changes() == []


@pytest.mark.parametrize(
    ("spec", "status"),
    [
        ({"action": "vanish"}, 400),
        ({"after": 0}, 400),
        ({"path_contains": ""}, 400),
        ({"action": "edit", "fields": {}}, 400),
        ({"person_id": "A0000000000"}, 404),
        ({"school_id": "nope"}, 404),
    ],
)
def test_bad_changes_are_refused(client, control, school, spec, status):
    person = client.all(f"/schools/{school}/employees")[0]["id"]
    body = {
        "after": 1,
        "path_contains": "/employees",
        "action": "delete",
        "school_id": school,
        "person_id": person,
        **spec,
    }
    assert control.request("POST", "mis-changes", body).status_code == status
    assert control.mis_changes() == []


def test_an_end_date_can_be_set_and_cleared(client, control, school):
    person = client.all(f"/schools/{school}/employees")[0]["id"]
    control.edit_person(school, person, end_date="2026-07-15")
    shown = client.get(
        f"/schools/{school}/employees/{person}", params={"include": "employment_details"}
    ).json()["data"]["employment_details"]["data"]
    assert shown["employment_end_date"]["date"] == "2026-07-15 00:00:00.000000"
    assert shown["employment_end_date"]["timezone"] == "Europe/London"
    assert shown["current"] is True  # a date alone does not make a leaver
    control.edit_person(school, person, end_date=None)
    again = client.get(
        f"/schools/{school}/employees/{person}", params={"include": "employment_details"}
    ).json()["data"]["employment_details"]["data"]
    assert again["employment_end_date"] is None
    with pytest.raises(requests.HTTPError, match="400"):
        control.edit_person(school, person, end_date="15/07/2026")


def test_a_single_person_is_404_once_deleted_and_on_an_empty_school(client, control, school):
    person = client.all(f"/schools/{school}/employees")[0]["id"]
    assert client.get(f"/schools/{school}/employees/{person}").json()["data"]["id"] == person
    control.fault(kind="empty", path_contains="/employees", times=None)
    answer = client.get(f"/schools/{school}/employees/{person}")
    assert answer.status_code == 404 and answer.json()["error"] == "not_found"
    control.clear_faults()
    control.delete_person(school, person)
    answer = client.get(f"/schools/{school}/employees/{person}")
    assert answer.status_code == 404 and set(answer.json()) >= {"error", "message"}
