"""Staff and pupils: shapes, date objects, includes, MIS status, deltas, deletions, hosts."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

UTC_STAMP = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}$")
MIDNIGHT = re.compile(r"^\d{4}-\d{2}-\d{2} 00:00:00\.000000$")
EMPLOYEE_KEYS = [
    "id",
    "upi",
    "mis_id",
    "initials",
    "title",
    "surname",
    "forename",
    "middle_names",
    "legal_surname",
    "legal_forename",
    "gender",
    "date_of_birth",
    "restored_at",
    "updated_at",
    "created_at",
]
STUDENT_KEYS = [
    "id",
    "upi",
    "mis_id",
    "initials",
    "surname",
    "forename",
    "middle_names",
    "legal_surname",
    "legal_forename",
    "gender",
    "date_of_birth",
    "restored_at",
    "created_at",
    "updated_at",
]
ALL_STAFF_INCLUDES = "employment_details,contact_details,classes"


def _utc(stamp: dict) -> datetime:
    return datetime.strptime(stamp["date"], "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=UTC)


def _assert_utc_stamp(stamp):
    assert set(stamp) == {"date", "timezone_type", "timezone"}
    assert UTC_STAMP.match(stamp["date"]), stamp
    assert (stamp["timezone_type"], stamp["timezone"]) == (3, "UTC")


def _assert_london_date(stamp):
    assert MIDNIGHT.match(stamp["date"]), stamp
    assert (stamp["timezone_type"], stamp["timezone"]) == (3, "Europe/London")


@pytest.fixture
def school(emu):
    """The first (approved and audited) school."""
    return emu.school_ids()[0]


def _staff(client, school, **params):
    return client.all(f"/schools/{school}/employees", **params)


def test_employee_fields_and_date_objects(client, school):
    staff = _staff(client, school)
    assert len(staff) == 20
    for person in staff:
        assert list(person) == EMPLOYEE_KEYS
        assert re.fullmatch(r"A\d{10}", person["id"])
        assert re.fullmatch(r"[0-9a-f]{32}", person["upi"])
        assert re.fullmatch(r"\d+", person["mis_id"])
        assert person["title"] in {"Mr", "Mrs", "Miss", "Ms", "Dr"}
        _assert_utc_stamp(person["created_at"])
        _assert_utc_stamp(person["updated_at"])
        assert person["restored_at"] is None
        if person["date_of_birth"] is not None:
            _assert_london_date(person["date_of_birth"])
        assert _utc(person["created_at"]) < _utc(person["updated_at"]) < datetime.now(UTC)
    assert len({p["id"] for p in staff}) == 20
    assert len({p["updated_at"]["date"] for p in staff}) == 20
    assert len({p["created_at"]["date"] for p in staff}) == 20


def test_nullable_fields_and_names_are_realistic(client, emu):
    people = [
        p
        for school in emu.school_ids()[:3]
        for p in _staff(client, school, include="contact_details")
    ]
    assert any(p["gender"] is None for p in people)
    assert any(p["date_of_birth"] is None for p in people)
    assert any(p["legal_surname"] is None for p in people)
    names = " ".join(p["forename"] + " " + p["surname"] for p in people)
    assert not names.isascii()
    assert "'" in names
    emails = [p["contact_details"]["data"]["emails"] for p in people]
    assert any(all(v is None for v in e.values()) for e in emails)
    assert any(e["primary"] and not e["email"] and not e["work"] for e in emails)
    assert any(e["email"] and e["email"] == e["work"] == e["primary"] for e in emails)


def test_student_fields(client, school):
    students = client.all(f"/schools/{school}/students", include="education_details")
    assert len(students) == 10
    for student in students:
        assert list(student)[:-1] == STUDENT_KEYS
        _assert_utc_stamp(student["created_at"])
        details = student["education_details"]["data"]
        assert re.fullmatch(r"[A-Z]\d{12}", details["upn"])
        assert details["current_nc_year"]
        _assert_london_date(details["admission_date"])
        assert details["status"] in {"active", "suspended", "archived"}


def test_includes_are_wrapped_in_data(client, school):
    plain = client.get(f"/schools/{school}/employees").json()
    assert plain["meta"]["includes"] == ["classes", "contact_details", "employment_details"]
    assert list(plain["data"][0]) == EMPLOYEE_KEYS
    body = client.get(f"/schools/{school}/employees?include={ALL_STAFF_INCLUDES}").json()
    for person in body["data"]:
        assert set(person) - set(EMPLOYEE_KEYS) == {
            "employment_details",
            "contact_details",
            "classes",
        }
        employment = person["employment_details"]
        assert list(employment) == ["data"]
        assert set(employment["data"]) == {
            "current",
            "teaching_staff",
            "employment_start_date",
            "employment_end_date",
            "status",
        }
        _assert_london_date(employment["data"]["employment_start_date"])
        contact = person["contact_details"]
        assert list(contact) == ["data"]
        assert set(contact["data"]["emails"]) == {"email", "primary", "home", "work"}
        assert set(contact["data"]["phones"]) >= {"phone", "primary", "mobile"}
        assert list(person["classes"]) == ["data"]
        assert isinstance(person["classes"]["data"], list)
        if person["classes"]["data"]:
            _assert_utc_stamp(person["classes"]["data"][0]["updated_at"])
    assert any(p["classes"]["data"] for p in body["data"])


def test_encoded_comma_in_include(client, school):
    body = client.get(f"/schools/{school}/employees?include=employment_details%2Ccontact_details")
    person = body.json()["data"][0]
    assert "employment_details" in person and "contact_details" in person
    assert "classes" not in person


def test_student_includes(client, school):
    body = client.get(
        f"/schools/{school}/students?include=education_details,contact_details,bogus"
    ).json()
    assert body["meta"]["includes"] == ["contact_details", "education_details"]
    assert "title" not in body["data"][0]
    assert list(body["data"][0]["education_details"]) == ["data"]
    assert list(body["data"][0]["contact_details"]) == ["data"]


def test_single_employee_envelope(client, school):
    listed = _staff(client, school, include="employment_details")
    body = client.get(
        f"/schools/{school}/employees/{listed[3]['id']}", params={"include": "employment_details"}
    ).json()
    assert body == {
        "data": listed[3],
        "meta": {"includes": ["classes", "contact_details", "employment_details"]},
    }
    assert client.get(f"/schools/{school}/employees/A0000000000").status_code == 404


def test_mis_status_matches_ground_truth(client, control, school):
    truth = {p["id"]: p for p in control.people(school)}
    assert Counter(p["mis_status"] for p in truth.values()) == {
        "active": 17,
        "suspended": 1,
        "archived": 1,
        "left": 1,
    }
    today = datetime.now(UTC).date().isoformat()
    for person in _staff(client, school, include="employment_details"):
        details = person["employment_details"]["data"]
        status = truth[person["id"]]["mis_status"]
        if status == "left":
            assert (details["status"], details["current"]) == ("active", False)
            assert details["employment_end_date"]["date"][:10] < today
        else:
            assert (details["status"], details["current"]) == (status, True)
            assert details["employment_end_date"] is None
        assert truth[person["id"]]["forename"] == person["forename"]


def test_student_leavers_have_a_leaving_date(client, control, school):
    truth = {p["id"]: p["mis_status"] for p in control.people(school, "student")}
    students = client.all(f"/schools/{school}/students", include="education_details")
    for student in students:
        details = student["education_details"]["data"]
        if truth[student["id"]] == "left":
            _assert_london_date(details["leaving_date"])
        else:
            assert details["leaving_date"] is None
            assert details["status"] == truth[student["id"]]


def test_ground_truth_email_matches_contact_details(client, control, emu):
    for school in emu.school_ids()[:3]:
        people = control.people(school)
        truth = {p["id"]: p["email"] for p in people}
        for person in _staff(client, school, include="contact_details"):
            emails = person["contact_details"]["data"]["emails"]
            assert truth[person["id"]] == (emails["email"] or emails["primary"])


def _stamp_text(moment: datetime, fmt: str) -> str:
    return moment.strftime(fmt)


@pytest.mark.parametrize(
    "fmt, shift",
    [
        ("%Y-%m-%d %H:%M:%S", timedelta(0)),
        ("%Y-%m-%dT%H:%M:%SZ", timedelta(0)),
        ("%Y-%m-%dT%H:%M:%S", timedelta(0)),
        ("%Y-%m-%dT%H:%M:%S.000000+00:00", timedelta(0)),
        ("%Y-%m-%dT%H:%M:%S+01:00", timedelta(hours=1)),
    ],
)
def test_updated_after_and_before_in_both_formats(client, control, school, fmt, shift):
    staff = _staff(client, school)
    target = staff[5]["id"]
    control.edit_person(school, target, surname="Nuñez")
    edited = client.get(f"/schools/{school}/employees/{target}").json()["data"]
    assert edited["surname"] == "Nuñez"
    moment = _utc(edited["updated_at"])
    newest_before = max(_utc(p["updated_at"]) for p in staff)
    assert moment > newest_before
    after = _stamp_text(moment + shift, fmt)
    assert [p["id"] for p in _staff(client, school, updated_after=after)] == [target]
    later = _stamp_text(moment + shift + timedelta(seconds=1), fmt)
    assert _staff(client, school, updated_after=later) == []
    before = _staff(client, school, updated_before=after)
    assert len(before) == 19 and target not in {p["id"] for p in before}


def test_updated_after_filters_generated_history(client, school):
    staff = _staff(client, school)
    cut = sorted(_utc(p["updated_at"]) for p in staff)[10]
    text = cut.strftime("%Y-%m-%d %H:%M:%S")
    assert len(_staff(client, school, updated_after=text)) == 10
    assert len(_staff(client, school, updated_before=text)) == 10


def test_unparsable_updated_after_is_400(client, school):
    answer = client.get(f"/schools/{school}/employees", params={"updated_after": "yesterday"})
    assert answer.status_code == 400


def test_delete_and_restore_flow_through_the_deletions_feed(client, control, school):
    staff = _staff(client, school)
    gone = staff[2]
    control.delete_person(school, gone["id"])
    assert gone["id"] not in {p["id"] for p in _staff(client, school)}
    assert client.get(f"/schools/{school}/employees/{gone['id']}").status_code == 404
    counts = client.get(f"/schools/{school}/counts?include=employees,students").json()
    assert counts["data"] == {
        "employees": {"data": {"count": 19}},
        "students": {"data": {"count": 10}},
    }
    feed = client.all(f"/schools/{school}/deletions", type="employee")
    assert len(feed) == 1
    record = feed[0]
    assert list(record) == ["id", "type", "mis_id", "deleted_at", "restored_at"]
    assert (record["id"], record["type"], record["mis_id"]) == (
        gone["id"],
        "employee",
        gone["mis_id"],
    )
    _assert_utc_stamp(record["deleted_at"])
    assert record["restored_at"] is None
    assert client.all(f"/schools/{school}/deletions", type="student") == []
    truth = {p["id"]: p for p in control.people(school)}
    assert truth[gone["id"]]["deleted"] is True and len(truth) == 20

    control.restore_person(school, gone["id"])
    back = {p["id"]: p for p in _staff(client, school)}[gone["id"]]
    _assert_utc_stamp(back["restored_at"])
    assert _utc(back["updated_at"]) >= _utc(record["deleted_at"])
    assert _utc(back["updated_at"]) > _utc(gone["updated_at"])
    feed = client.all(f"/schools/{school}/deletions", type="employee")
    assert [r["id"] for r in feed] == [gone["id"]]
    assert feed[0]["restored_at"] == back["restored_at"]
    stamp = _utc(feed[0]["restored_at"]).strftime("%Y-%m-%d %H:%M:%S")
    assert len(client.all(f"/schools/{school}/deletions", updated_after=stamp)) == 1
    assert (
        control.request("POST", f"/schools/{school}/employees/{gone['id']}/restore").status_code
        == 409
    )


def test_student_deletions(client, control, school):
    pupil = client.all(f"/schools/{school}/students")[0]
    control.delete_person(school, pupil["id"], "student")
    feed = client.all(f"/schools/{school}/deletions")
    assert [(r["id"], r["type"]) for r in feed] == [(pupil["id"], "student")]
    assert client.all(f"/schools/{school}/deletions", type="employee") == []
    assert len(client.all(f"/schools/{school}/students")) == 9


def test_control_edits_add_and_status_changes(client, control, school):
    added = control.add_person(
        school, forename="Zoë", surname="D'Souza", email="z.dsouza@x.example"
    )
    new_id = added["id"]
    assert added["mis_status"] == "active"
    listed = {p["id"]: p for p in _staff(client, school, include=ALL_STAFF_INCLUDES)}
    assert listed[new_id]["forename"] == "Zoë"
    assert listed[new_id]["employment_details"]["data"]["status"] == "active"
    assert listed[new_id]["contact_details"]["data"]["emails"]["email"] == "z.dsouza@x.example"
    assert len(listed) == 21

    control.edit_person(school, new_id, mis_status="suspended")
    person = client.get(f"/schools/{school}/employees/{new_id}?include=employment_details")
    assert person.json()["data"]["employment_details"]["data"]["status"] == "suspended"

    control.edit_person(school, new_id, mis_status="left", email=None)
    person = client.get(
        f"/schools/{school}/employees/{new_id}?include=employment_details,contact_details"
    ).json()["data"]
    details = person["employment_details"]["data"]
    assert (details["status"], details["current"]) == ("active", False)
    assert details["employment_end_date"]["date"][:10] < datetime.now(UTC).date().isoformat()
    assert set(person["contact_details"]["data"]["emails"].values()) <= {None} | {
        person["contact_details"]["data"]["emails"]["home"]
    }
    truth = {p["id"]: p for p in control.people(school)}
    assert truth[new_id]["mis_status"] == "left" and truth[new_id]["email"] is None


def test_control_edit_validation(client, control, school):
    person = _staff(client, school)[0]["id"]
    path = f"/schools/{school}/employees/{person}"
    assert control.request("PATCH", path, {"mis_status": "gone"}).status_code == 400
    assert control.request("PATCH", path, {"shoe_size": 9}).status_code == 400
    assert control.request("PATCH", f"/schools/{school}/employees/A1", {}).status_code == 404
    assert (
        control.request("POST", f"/schools/{school}/employees", {"forename": "X"}).status_code
        == 400
    )
    assert control.people(school)[0]["mis_status"] != "gone"


def test_wrong_host_returns_no_data(client, control, emu):
    gbr = emu.school_ids()[0]
    aus = emu.school_ids()[4]
    control.approve(aus)
    assert client.get(f"/schools/{aus}").json()["data"]["region"]["domain"] == (
        f"localhost:{emu.port}"
    )
    assert client.get(f"/schools/{aus}/employees").json()["data"] == []
    assert len(client.all(f"/schools/{aus}/employees", host="localhost")) == 20
    assert client.get(f"/schools/{gbr}/employees", host="localhost").json()["data"] == []
    assert client.get(f"/schools/{gbr}/employees").json()["data"]
    counts = client.get(f"/schools/{aus}/counts?include=employees").json()["data"]
    assert counts == {"employees": {"data": {"count": 0}}}
    counts = client.get(f"/schools/{aus}/counts?include=employees", host="localhost").json()
    assert counts["data"] == {"employees": {"data": {"count": 20}}}
    page = client.get(f"/schools/{aus}/employees", host="localhost", params={"per_page": 5}).json()
    assert page["meta"]["pagination"]["next"].startswith(f"http://localhost:{emu.port}/")


def test_counts_only_lists_requested_includes(client, school):
    body = client.get(f"/schools/{school}/counts").json()
    assert body == {"data": {}, "meta": {"includes": ["employees", "students"]}}
    body = client.get(f"/schools/{school}/counts?include=students").json()
    assert body["data"] == {"students": {"data": {"count": 10}}}


def test_unencoded_plus_in_an_offset_is_understood(client, school):
    staff = _staff(client, school)
    newest = max(_utc(p["updated_at"]) for p in staff)
    text = (newest + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S+01:00")
    answer = client.http.get(
        client.url(f"/schools/{school}/employees?updated_after={text}"), timeout=10
    )
    assert answer.status_code == 200
    assert [p["updated_at"] for p in answer.json()["data"]] == [
        p["updated_at"] for p in staff if _utc(p["updated_at"]) == newest
    ]
