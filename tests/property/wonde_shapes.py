"""Hypothesis strategies for what Wonde sends: people, deletions, schools, pages, webhooks.

Shapes follow the Wonde API as public sources show it: string ids ("A" + digits, though any
text is tolerated), names in any script, fields that are missing or null, included
relations wrapped in ``{"data": ...}``, and PHP date objects. ``stored_text`` adds what a
JSON body can carry but a database cannot store: NUL and lone surrogates (``"\\ud800"``).
"""

from __future__ import annotations

from datetime import datetime

from hypothesis import strategies as st

from wonde_sync.core.vocabulary import EMPLOYEE, STUDENT

RECORD_TYPES = (EMPLOYEE, STUDENT)
MIS_STATUSES = ("active", "suspended", "archived", "ACTIVE", "Suspended", "", None)

#: Any text, but no lone surrogates: what most Wonde strings are.
text = st.text(max_size=30)
#: Text as a JSON body can carry it (``\u0000``, ``\ud800``): NUL or a lone surrogate inside.
stored_text = st.builds(
    lambda before, odd, after: before + odd + after,
    text,
    st.sampled_from(["\x00", "\ud800", "\udc80", "\udfff"]),
    text,
)

wonde_ids = st.one_of(
    st.from_regex(r"A[0-9]{9,10}", fullmatch=True),
    st.sampled_from(["A1", "A2", "A3", " A1 ", "A1\u00a0"]),  # collide after trimming
    text,
)
names = st.one_of(
    st.none(),
    st.sampled_from(["O'Neill", "Zoë", "Zoe\u0308", "  Ann  Marie ", "Nguyễn", "\t", ""]),
    text,
)
_label = st.text("abcdefghijklmnopqrstuvwxyz0123456789-_'+", min_size=1, max_size=8)
#: Well-formed addresses (hypothesis' own ``emails()`` is slower and no more varied here).
good_addresses = st.builds(
    lambda local, domain, top: f"{local}@{domain}.{top}",
    _label,
    _label,
    st.sampled_from(["org", "org.uk", "sch.uk", "com", "ÉCOLE"]),
)
addresses = st.one_of(
    st.none(),
    st.just(""),
    good_addresses,
    good_addresses.map(str.upper),
    good_addresses.map(lambda e: f"  {e}\t"),
    st.sampled_from(["not-an-email", "a@b", "two@@school.org", "x y@school.org", "@x.org"]),
)


def _stamp_text(moment: datetime, micro: bool) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f" if micro else "%Y-%m-%d %H:%M:%S")


#: Named-zone (timezone_type 3) and UTC-offset (type 1) PHP date objects, or null.
date_objects = st.one_of(
    st.none(),
    st.builds(
        lambda moment, micro, zone: {
            "date": _stamp_text(moment, micro),
            "timezone_type": 1 if zone.startswith(("+", "-")) else 3,
            "timezone": zone,
        },
        st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1)),
        st.booleans(),
        st.sampled_from(["UTC", "Europe/London", "Australia/Sydney", "+00:00", "+10:00"]),
    ),
)


def _wrapped(data):
    """An included relation: ``{"data": ...}``, sometimes missing or ``{"data": null}``."""
    return st.one_of(st.none(), st.just({"data": None}), data.map(lambda d: {"data": d}))


_MISSING = object()


def _present(fields: dict) -> dict:
    """The fields drawn with a value (null included), without those drawn as absent."""
    return {k: v for k, v in fields.items() if v is not _MISSING}


def _maybe(strategy):
    """A field that is present with a value, present as null, or absent."""
    return st.one_of(st.just(_MISSING), st.none(), strategy)


emails = st.fixed_dictionaries(
    {},
    optional={
        "email": addresses,
        "primary": addresses,
        "work": addresses,
        "home": addresses,
    },
)
contact_details = _wrapped(
    st.fixed_dictionaries(
        {"emails": st.one_of(st.none(), emails)},
        optional={"salutation": names, "phones": st.none()},
    )
)
employment_details = _wrapped(
    st.builds(
        lambda current, status, start, end: _present(
            {
                "current": current,
                "status": status,
                "employment_start_date": start,
                "employment_end_date": end,
            }
        ),
        _maybe(st.booleans()),
        _maybe(st.sampled_from(MIS_STATUSES)),
        _maybe(date_objects),
        _maybe(date_objects),
    )
)
education_details = _wrapped(
    st.builds(
        lambda year, status, leaving: _present(
            {"current_nc_year": year, "status": status, "leaving_date": leaving}
        ),
        _maybe(st.one_of(st.integers(-1, 14), st.sampled_from(["7", "R", " 10 ", "N1"]))),
        _maybe(st.sampled_from(MIS_STATUSES)),
        _maybe(date_objects),
    )
)


def people(record_type: str, *, ids=wonde_ids, strings=names):
    """Wonde employee or student objects as the list endpoints return them."""
    details = (
        {"employment_details": employment_details}
        if record_type == EMPLOYEE
        else {"education_details": education_details}
    )
    return st.builds(
        _present,
        st.fixed_dictionaries(
            {
                "id": _maybe(ids),
                "upi": _maybe(st.from_regex(r"[0-9a-f]{32}", fullmatch=True)),
                "mis_id": _maybe(st.one_of(st.from_regex(r"[0-9]{1,6}", fullmatch=True), text)),
                "forename": _maybe(strings),
                "surname": _maybe(strings),
                "middle_names": _maybe(strings),
                "gender": _maybe(st.sampled_from(["MALE", "FEMALE"])),
                "date_of_birth": date_objects,
                "restored_at": date_objects,
                "updated_at": date_objects,
                "created_at": date_objects,
                "contact_details": _maybe(contact_details),
                **{name: _maybe(value) for name, value in details.items()},
            }
        ),
    )


def deletions(record_type: str):
    """Entries of ``GET /schools/{id}/deletions?type=...``."""
    return st.builds(
        _present,
        st.fixed_dictionaries(
            {
                "id": _maybe(wonde_ids),
                "type": st.one_of(st.just(_MISSING), st.just(record_type)),
                "mis_id": _maybe(text),
                "deleted_at": date_objects,
                "restored_at": date_objects,
            }
        ),
    )


schools = st.builds(
    _present,
    st.fixed_dictionaries(
        {
            "id": _maybe(wonde_ids),
            "name": _maybe(names),
            "urn": _maybe(st.one_of(st.integers(0, 10**7), text)),
            "establishment_number": _maybe(st.one_of(st.integers(0, 9999), text)),
            "la_code": _maybe(text),
            "phase_of_education": _maybe(st.sampled_from(["PRIMARY", "SECONDARY", "16 PLUS"])),
            "mis": _maybe(st.sampled_from(["SIMS", "Arbor", "Bromcom"])),
            "timezone": _maybe(st.just("Europe/London")),
            "address": _maybe(
                st.fixed_dictionaries(
                    {},
                    optional={
                        "address_line_1": st.one_of(st.none(), text),
                        "address_line_2": st.one_of(st.none(), text),
                        "address_town": st.one_of(st.none(), text),
                        "address_postcode": st.one_of(st.none(), text, st.just("cb8 7sg")),
                        "address_country": st.one_of(
                            st.none(), st.just({"code": "GBR", "name": "England"})
                        ),
                    },
                )
            ),
            "region": _maybe(
                st.fixed_dictionaries({"code": st.just("GBR"), "domain": st.just("api.wonde.com")})
            ),
        }
    ),
)

#: Any JSON value, nested a little.
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
    max_leaves=12,
)

#: What a ``next`` link may hold: Wonde's absolute URLs, relative ones, and broken ones.
urls = st.builds(
    lambda scheme, host, rest: f"{scheme}{host}{rest}",
    st.sampled_from(["https://", "http://", "//", "", "ftp://", "HTTPS://"]),
    st.sampled_from(
        ["api.wonde.com", "api-ap-southeast-2.wonde.com", "[::1", "[zz]", "[::1]", "a:99999"]
    ),
    st.sampled_from(["/v1.0/schools?page=2", "", "?page=3", "/x#y", "/\x00", ":80/"]),
)
links = st.one_of(text, urls)
pagination = st.fixed_dictionaries(
    {"next": st.one_of(st.none(), links, json_values)},
    optional={
        "more": st.one_of(st.booleans(), st.none(), text),
        "previous": st.none(),
        "per_page": st.integers(),
        "current_page": st.integers(),
    },
)
#: ``meta`` of a list page: mostly the pagination object, sometimes another shape.
pagination_meta = st.one_of(
    st.fixed_dictionaries({"pagination": pagination}),
    st.fixed_dictionaries({"pagination": json_values}),
    json_values,
)
