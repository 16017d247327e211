"""The school directory: shape of a school, filters, single school, meta."""

from __future__ import annotations

import re

import pytest

POSTCODE = re.compile(r"^[A-Z]{1,2}\d[A-Z\d]? \d[ABD-HJLNP-UW-Z]{2}$")
PHASES = {
    "ALL THROUGH",
    "NOT APPLICABLE",
    "NOT APPLICABLE DEEMED PRIMARY",
    "NOT APPLICABLE DEEMED SECONDARY",
    "NURSERY",
    "PRIMARY",
    "SECONDARY",
    "16 PLUS",
    "SPECIAL",
}
MIS = {"SIMS", "Arbor", "Bromcom", "ScholarPack", "iSAMS", "Progresso", "Integris"}
NATIONS = {"England", "Wales", "Scotland", "Northern Ireland"}
SECONDS_DATE = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")


@pytest.fixture
def schools(shared):
    """The whole directory of the shared emulator."""
    return shared.all("/schools/all", per_page=200)


def test_school_objects_have_the_wonde_shape(schools, shared_emu):
    assert len(schools) == 237
    for school in schools:
        assert list(school) == [
            "id",
            "name",
            "establishment_number",
            "urn",
            "phase_of_education",
            "la_code",
            "timezone",
            "mis",
            "address",
            "extended",
            "region",
        ]
        assert re.fullmatch(r"A\d{10}", school["id"])
        assert isinstance(school["urn"], int) and 100000 <= school["urn"] <= 999999
        assert re.fullmatch(r"\d{3}", school["la_code"])
        assert re.fullmatch(r"\d{4}", school["establishment_number"])
        assert school["phase_of_education"] in PHASES
        assert school["mis"] in MIS
        assert school["timezone"] == "Europe/London"
        address = school["address"]
        assert POSTCODE.match(address["address_postcode"]), address["address_postcode"]
        assert address["address_country"]["code"] == "GBR"
        assert address["address_country"]["name"] in NATIONS
        assert set(school["extended"]) == {
            "allows_writeback",
            "has_timetables",
            "has_lesson_attendance",
            "audit_approved_at",
        }
        audit = school["extended"]["audit_approved_at"]
        if audit is not None:
            assert SECONDS_DATE.match(audit["date"])
            assert audit["timezone_type"] == 3 and audit["timezone"] == "UTC"
        region = school["region"]
        assert region["identifiers"] == {
            "la_code": school["la_code"],
            "establishment_number": school["establishment_number"],
            "urn": school["urn"],
        }
        assert region["school_url"] == f"http://{region['domain']}/v1.0/schools/{school['id']}"
    assert len({s["id"] for s in schools}) == len(schools)
    assert len({s["urn"] for s in schools}) == len(schools)


def test_directory_data_is_varied_and_realistic(schools):
    names = [s["name"] for s in schools]
    assert any(name.startswith("St ") and "'s " in name for name in names)
    assert any(name.startswith("Ysgol ") for name in names)
    assert any(s["address"]["address_line_2"] is None for s in schools)
    assert any(s["address"]["address_town"] is None for s in schools)
    assert any(s["extended"]["audit_approved_at"] is None for s in schools)
    assert len({s["mis"] for s in schools}) >= 5
    assert len({s["phase_of_education"] for s in schools}) >= 5
    assert len({s["address"]["address_country"]["name"] for s in schools}) >= 3


def test_about_five_percent_of_schools_are_in_the_aus_region(schools, shared_emu):
    port = shared_emu.port
    regions = {s["id"]: s["region"] for s in schools}
    aus = [sid for sid, region in regions.items() if region["code"] == "AUS"]
    assert 8 <= len(aus) <= 16
    for region in regions.values():
        expected = "localhost" if region["code"] == "AUS" else "127.0.0.1"
        assert region["domain"] == f"{expected}:{port}"
        assert region["code"] in ("AUS", "GBR")


@pytest.mark.parametrize(
    "transform",
    [
        lambda code: code,
        lambda code: code.replace(" ", ""),
        lambda code: code.lower(),
        lambda code: code[:1] + code[1:].lower(),
        lambda code: f" {code.split()[0]} ",
        lambda code: code.split()[0][:2],
    ],
)
def test_postcode_filter_is_a_case_and_space_insensitive_prefix(shared, schools, transform):
    target = schools[17]
    query = transform(target["address"]["address_postcode"])
    found = shared.all("/schools/all", postcode=query)
    assert target["id"] in {s["id"] for s in found}
    key = query.replace(" ", "").upper()
    assert all(s["address"]["address_postcode"].replace(" ", "").startswith(key) for s in found)
    expected = [
        s["id"]
        for s in schools
        if s["address"]["address_postcode"].replace(" ", "").startswith(key)
    ]
    assert [s["id"] for s in found] == expected


@pytest.mark.parametrize("field", ["establishment_number", "urn", "la_code"])
def test_exact_filters(shared, schools, field):
    target = schools[30]
    value = str(target[field])
    found = shared.all("/schools/all", **{field: value})
    assert [s["id"] for s in found] == [s["id"] for s in schools if str(s[field]) == value]
    assert target["id"] in {s["id"] for s in found}
    assert shared.all("/schools/all", **{field: value[:-1]}) == []


def test_urn_filter_is_exact_not_prefix(shared, schools):
    urn = str(schools[5]["urn"])
    assert shared.all("/schools/all", urn=urn[:5]) == []


def test_name_filter_is_a_case_insensitive_substring(shared, schools):
    target = schools[12]["name"]
    fragment = target[3:9].swapcase()
    found = shared.all("/schools/all", name=fragment)
    assert schools[12]["id"] in {s["id"] for s in found}
    assert all(fragment.casefold() in s["name"].casefold() for s in found)
    assert len(found) == sum(fragment.casefold() in s["name"].casefold() for s in schools)


def test_filters_combine_and_unknown_params_are_ignored(shared, schools):
    target = schools[40]
    found = shared.all(
        "/schools/all",
        la_code=target["la_code"],
        establishment_number=target["establishment_number"],
        colour="blue",
    )
    assert target["id"] in {s["id"] for s in found}
    assert all(s["la_code"] == target["la_code"] for s in found)
    assert len(shared.all("/schools/all", colour="blue")) == len(schools)
    assert shared.all("/schools/all", postcode="ZZ9") == []


def test_single_school_envelope(shared, schools, shared_emu):
    approved = shared_emu.school_ids()[0]
    body = shared.get(f"/schools/{approved}").json()
    assert body == {"data": schools[0], "meta": {"includes": ["cbds"]}}


def test_meta_school(client, control, emu):
    approved, other = emu.school_ids()[0], emu.school_ids()[8]
    assert client.get(f"/meta/schools/{approved}").json() == {
        "data": {
            "online": True,
            "approved": True,
            "audited": True,
            "custom_attendance_codes": False,
        }
    }
    assert client.get(f"/meta/schools/{other}/").json()["data"] == {
        "online": True,
        "approved": False,
        "audited": False,
        "custom_attendance_codes": False,
    }
    control.approve(other, audited=False)
    data = client.get(f"/meta/schools/{other}").json()["data"]
    assert (data["approved"], data["audited"]) == (True, False)
