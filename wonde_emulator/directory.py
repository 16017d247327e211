"""The synthetic Wonde school directory (``GET /v1.0/schools/all``).

The directory is built once at start-up as a list of compact ``SchoolRecord`` objects (one
``__slots__`` object per school) so that 100,000 schools fit in a few tens of megabytes and
build in about a second; the nested JSON dicts are rendered only for the page being served.

Generation is deterministic from the seed and prefix-stable: school *i* is the same whether the
directory holds 100 or 100,000 schools. Ids (``A`` + 10 digits) and URNs (6 digits) come from
a multiplicative permutation of the index, which makes them unique without a lookup table.

Every 20th school (index 4, 24, 44, ...) is in region ``AUS``; all others are ``GBR``. Both
regions are served by the same process under different host names (see ``Emulator``), which is
how a client's switching to ``region.domain`` is exercised.

Directory filters. ``postcode`` (prefix, case- and space-insensitive) and
``establishment_number`` (exact string) are the filters Wonde's own clients document. The
following are assumptions, not confirmed Wonde behaviour: ``urn`` (exact), ``la_code``
(exact) and ``name`` (case-insensitive substring). Filters combine with AND; an empty value
is ignored, as is any unknown parameter.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence

from .dates import ANCHOR, from_epoch, timestamp_seconds

PHASES = (
    "ALL THROUGH",
    "NOT APPLICABLE",
    "NOT APPLICABLE DEEMED PRIMARY",
    "NOT APPLICABLE DEEMED SECONDARY",
    "NURSERY",
    "PRIMARY",
    "SECONDARY",
    "16 PLUS",
    "SPECIAL",
)

_MIS = (
    ("SIMS", 45),
    ("Arbor", 20),
    ("Bromcom", 12),
    ("ScholarPack", 9),
    ("iSAMS", 5),
    ("Progresso", 5),
    ("Integris", 4),
)
_MIS_NAMES = tuple(name for name, _ in _MIS)
_MIS_WEIGHTS = tuple(weight for _, weight in _MIS)

_NATIONS = (("England", 84), ("Wales", 5), ("Scotland", 8), ("Northern Ireland", 3))
_NATION_NAMES = tuple(name for name, _ in _NATIONS)
_NATION_WEIGHTS = tuple(weight for _, weight in _NATIONS)

# Postcode areas with towns that really lie in them, per nation.
_AREAS: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "England": (
        ("CB", ("Cambridge", "Newmarket", "Ely", "Saffron Walden")),
        ("SW", ("London",)),
        ("EC", ("London",)),
        ("SE", ("London",)),
        ("N", ("London",)),
        ("E", ("London",)),
        ("W", ("London",)),
        ("M", ("Manchester", "Salford")),
        ("B", ("Birmingham",)),
        ("LS", ("Leeds", "Wetherby")),
        ("NE", ("Newcastle upon Tyne", "Gateshead", "Hexham")),
        ("BS", ("Bristol",)),
        ("OX", ("Oxford", "Banbury", "Witney")),
        ("NR", ("Norwich", "Great Yarmouth")),
        ("PE", ("Peterborough", "King's Lynn")),
        ("L", ("Liverpool", "Bootle")),
        ("S", ("Sheffield", "Rotherham")),
        ("YO", ("York", "Scarborough")),
        ("EX", ("Exeter", "Exmouth")),
        ("TR", ("Truro", "Penzance")),
        ("CA", ("Carlisle", "Penrith")),
        ("BN", ("Brighton", "Lewes", "Worthing")),
        ("LE", ("Leicester", "Loughborough")),
        ("NG", ("Nottingham", "Newark")),
    ),
    "Wales": (
        ("CF", ("Cardiff", "Barry", "Caerphilly")),
        ("SA", ("Swansea", "Llanelli", "Carmarthen")),
        ("LL", ("Bangor", "Llandudno", "Wrexham")),
        ("NP", ("Newport", "Abergavenny")),
        ("SY", ("Aberystwyth", "Newtown")),
        ("LD", ("Llandrindod Wells",)),
    ),
    "Scotland": (
        ("EH", ("Edinburgh", "Musselburgh")),
        ("G", ("Glasgow",)),
        ("AB", ("Aberdeen", "Peterhead")),
        ("DD", ("Dundee", "Arbroath")),
        ("KY", ("Kirkcaldy", "St Andrews")),
        ("IV", ("Inverness", "Nairn")),
        ("PA", ("Paisley", "Greenock")),
        ("FK", ("Falkirk", "Stirling")),
    ),
    "Northern Ireland": (("BT", ("Belfast", "Newry", "Omagh", "Lisburn", "Londonderry")),),
}

# Local-authority code ranges that look like the real ones for each nation.
_LA_RANGES = {
    "England": (201, 938),
    "Wales": (660, 681),
    "Scotland": (100, 132),
    "Northern Ireland": (801, 811),
}

_INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"
_CENTRAL_LONDON = {"SW", "EC", "W", "E", "N", "SE"}
_SUB_DISTRICT_LETTERS = "ABCEHMNPRVWXY"

_SAINTS = (
    "Mary",
    "John",
    "Peter",
    "Paul",
    "Joseph",
    "Michael",
    "Andrew",
    "George",
    "Anne",
    "Margaret",
    "Mark",
    "Luke",
    "Matthew",
    "Bede",
    "Thomas",
    "Chad",
    "Aidan",
    "Hilda",
    "Bernadette",
    "Francis",
    "Patrick",
    "David",
    "Teilo",
    "Columba",
    "Brigid",
    "Oswald",
)
_ROOTS = (
    "Oak",
    "Ash",
    "Elm",
    "Beech",
    "Birch",
    "Hazel",
    "Willow",
    "Holly",
    "Brook",
    "River",
    "Green",
    "Hill",
    "Meadow",
    "Park",
    "Kings",
    "Queens",
    "West",
    "East",
    "North",
    "South",
    "Church",
    "Mill",
    "Fair",
    "Lark",
    "Rose",
    "Thorn",
    "Wood",
    "Hart",
    "Stan",
    "Cross",
)
_ENDINGS = (
    "field",
    "wood",
    "side",
    "mead",
    "gate",
    "bank",
    "dale",
    "lands",
    "brook",
    "croft",
    "way",
    "hill",
    "view",
    "ley",
    "moor",
    "ford",
    "hurst",
    "combe",
)
# (suffix, phase) pairs for English-medium names.
_KINDS = (
    ("Primary School", "PRIMARY", 30),
    ("Primary Academy", "PRIMARY", 8),
    ("Infant School", "PRIMARY", 6),
    ("Junior School", "PRIMARY", 6),
    ("Community Primary School", "PRIMARY", 6),
    ("Nursery School", "NURSERY", 3),
    ("Academy", "SECONDARY", 10),
    ("High School", "SECONDARY", 8),
    ("Community School", "SECONDARY", 4),
    ("Grammar School", "SECONDARY", 2),
    ("School", "NOT APPLICABLE", 2),
    ("Special School", "SPECIAL", 3),
    ("Sixth Form College", "16 PLUS", 2),
    ("All-Through School", "ALL THROUGH", 2),
    ("Pupil Referral Unit", "NOT APPLICABLE DEEMED SECONDARY", 1),
    ("Children's Centre", "NOT APPLICABLE DEEMED PRIMARY", 1),
)
_KIND_WEIGHTS = tuple(weight for _, _, weight in _KINDS)
_FAITH = (
    ("C of E Primary School", "PRIMARY"),
    ("CE Primary School", "PRIMARY"),
    ("Church of England Primary School", "PRIMARY"),
    ("Catholic Primary School", "PRIMARY"),
    ("RC Primary School", "PRIMARY"),
    ("Catholic High School", "SECONDARY"),
    ("Catholic Academy", "SECONDARY"),
    ("C of E Academy", "SECONDARY"),
)
_WELSH = (
    "Y Graig",
    "Gymraeg Bro Morgannwg",
    "Gynradd Pen-y-Bryn",
    "Bryn Elian",
    "Glan Clwyd",
    "Uwchradd Tywyn",
    "Pen Barras",
    "Maes y Gwendraeth",
    "Y Strade",
    "Gyfun Ystalyfera",
    "Llanfair",
    "Bro Teifi",
    "Cwm Rhymni",
    "Dyffryn Ogwen",
    "Gymraeg Aberystwyth",
    "Gynradd Gymraeg Treganna",
    "Y Berllan Deg",
    "Tan-y-Castell",
)
_STREETS = (
    "School Lane",
    "Church Road",
    "High Street",
    "Station Road",
    "Mill Lane",
    "Park Avenue",
    "Victoria Road",
    "Queen's Drive",
    "Green Lane",
    "Manor Road",
    "The Avenue",
    "Kings Road",
    "St John's Way",
    "Orchard Close",
    "Westfield Road",
    "Chapel Street",
    "Bridge Street",
)
# Second address lines that fit any town.
_LOCALITIES = (
    "Lower Green",
    "Church End",
    "Upper Town",
    "Westside",
    "Northfield Estate",
    "Old Village",
    "Market Place",
    "Town Centre",
    "Hill Top",
    "Bridge End",
    "Station Quarter",
    "Parkside",
)

# Multipliers coprime with 9e9 and 9e5 (not divisible by 2, 3 or 5): i -> (i*m + c) mod n
# is then a bijection, so ids and URNs are unique for any directory size.
_ID_SPAN = 9_000_000_000
_ID_MULTIPLIER = 2_654_435_761
_URN_SPAN = 900_000
_URN_MULTIPLIER = 654_323
MAX_SCHOOLS = _URN_SPAN

# Flag bits of SchoolRecord.flags.
_WRITEBACK, _TIMETABLES, _LESSON_ATTENDANCE = 1, 2, 4

# The AUS region takes every 20th school (about 5%), starting with the fifth.
AUS_EVERY, AUS_OFFSET = 20, 4

_DIRECTORY_START = 1_546_300_800  # 2019-01-01T00:00:00Z
_ANCHOR_EPOCH = int(ANCHOR.timestamp())


class SchoolRecord:
    """One school, kept compact; ``render_school`` turns it into Wonde's JSON shape."""

    __slots__ = (
        "index",
        "id",
        "name",
        "name_key",
        "urn",
        "la_code",
        "establishment_number",
        "phase",
        "mis",
        "line1",
        "line2",
        "town",
        "postcode",
        "postcode_key",
        "nation",
        "flags",
        "audit_epoch",
        "aus",
    )

    def __init__(self, index: int, fields: Sequence) -> None:
        self.index = index
        (
            self.id,
            self.name,
            self.urn,
            self.la_code,
            self.establishment_number,
            self.phase,
            self.mis,
            self.line1,
            self.line2,
            self.town,
            self.postcode,
            self.nation,
            self.flags,
            self.audit_epoch,
            self.aus,
        ) = fields
        self.name_key = self.name.casefold()
        self.postcode_key = self.postcode.replace(" ", "").upper()

    @property
    def region_code(self) -> str:
        """Wonde ``region.code``: ``AUS`` or ``GBR``."""
        return "AUS" if self.aus else "GBR"


def postcode_key(text: str) -> str:
    """Normalise a postcode (or a prefix of one) for comparison: no spaces, upper case."""
    return "".join(text.split()).upper()


class Directory:
    """All schools, in directory order, with lookup by id and filter scans."""

    def __init__(self, count: int, seed: int) -> None:
        if not 0 <= count <= MAX_SCHOOLS:
            raise ValueError(f"schools must be between 0 and {MAX_SCHOOLS}")
        self.seed = seed
        rng = random.Random(f"wonde-emulator/directory/{seed}")
        id_offset = rng.randrange(_ID_SPAN)
        urn_offset = rng.randrange(_URN_SPAN)
        self.records: list[SchoolRecord] = [
            SchoolRecord(index, _generate(rng, index, id_offset, urn_offset))
            for index in range(count)
        ]
        self._by_id = {record.id: record for record in self.records}

    def __len__(self) -> int:
        return len(self.records)

    def get(self, school_id: str) -> SchoolRecord | None:
        """The record for ``school_id``, or None if the directory has no such school."""
        return self._by_id.get(school_id)

    def ids(self) -> list[str]:
        """All school ids in directory order."""
        return [record.id for record in self.records]

    def search(self, params: Mapping[str, str]) -> Sequence[SchoolRecord]:
        """The records matching the directory filters in ``params`` (see module docstring)."""
        tests = []
        postcode = postcode_key(params.get("postcode", ""))
        if postcode:
            tests.append(lambda r: r.postcode_key.startswith(postcode))
        establishment = params.get("establishment_number", "").strip()
        if establishment:
            tests.append(lambda r: r.establishment_number == establishment)
        urn = params.get("urn", "").strip()
        if urn:
            tests.append(lambda r: str(r.urn) == urn)
        la_code = params.get("la_code", "").strip()
        if la_code:
            tests.append(lambda r: r.la_code == la_code)
        name = params.get("name", "").strip().casefold()
        if name:
            tests.append(lambda r: name in r.name_key)
        if not tests:
            return self.records
        return [r for r in self.records if all(test(r) for test in tests)]

    def select(self, indices: Iterable[int]) -> list[SchoolRecord]:
        """Records for the given directory indices, in the order given."""
        return [self.records[i] for i in indices]


def render_school(record: SchoolRecord, gbr_domain: str, aus_domain: str) -> dict:
    """The Wonde JSON object for one school; ``region.domain`` depends on its region."""
    domain = aus_domain if record.aus else gbr_domain
    audit = None if record.audit_epoch is None else from_epoch(record.audit_epoch)
    return {
        "id": record.id,
        "name": record.name,
        "establishment_number": record.establishment_number,
        "urn": record.urn,
        "phase_of_education": record.phase,
        "la_code": record.la_code,
        "timezone": "Europe/London",
        "mis": record.mis,
        "address": {
            "address_line_1": record.line1,
            "address_line_2": record.line2,
            "address_town": record.town,
            "address_postcode": record.postcode,
            "address_country": {"code": "GBR", "name": record.nation},
        },
        "extended": {
            "allows_writeback": bool(record.flags & _WRITEBACK),
            "has_timetables": bool(record.flags & _TIMETABLES),
            "has_lesson_attendance": bool(record.flags & _LESSON_ATTENDANCE),
            "audit_approved_at": timestamp_seconds(audit),
        },
        "region": {
            "code": record.region_code,
            "domain": domain,
            "school_url": f"http://{domain}/v1.0/schools/{record.id}",
            "identifiers": {
                "la_code": record.la_code,
                "establishment_number": record.establishment_number,
                "urn": record.urn,
            },
        },
    }


def _generate(rng: random.Random, index: int, id_offset: int, urn_offset: int) -> tuple:
    """The field tuple for school ``index``; consumes a fixed-shape slice of ``rng``."""
    school_id = "A" + str(1_000_000_000 + (index * _ID_MULTIPLIER + id_offset) % _ID_SPAN)
    urn = 100_000 + (index * _URN_MULTIPLIER + urn_offset) % _URN_SPAN
    nation = rng.choices(_NATION_NAMES, _NATION_WEIGHTS)[0]
    area, towns = rng.choice(_AREAS[nation])
    town = rng.choice(towns)
    name, phase = _school_name(rng, nation, town)
    low, high = _LA_RANGES[nation]
    la_code = str(rng.randint(low, high))
    establishment_number = str(_establishment_number(rng, phase))
    mis = rng.choices(_MIS_NAMES, _MIS_WEIGHTS)[0]
    number = rng.randint(1, 240)
    street = rng.choice(_STREETS)
    line1 = f"{number} {street}" if rng.random() < 0.5 else street
    line2 = rng.choice(_LOCALITIES) if rng.random() < 0.55 else None
    town_or_none = town if rng.random() < 0.94 else None
    postcode = _postcode(rng, area)
    secondary = phase in ("SECONDARY", "ALL THROUGH", "16 PLUS")
    flags = 0
    if rng.random() < 0.3:
        flags |= _WRITEBACK
    if rng.random() < (0.9 if secondary else 0.2):
        flags |= _TIMETABLES
    if rng.random() < (0.85 if secondary else 0.1):
        flags |= _LESSON_ATTENDANCE
    audit_epoch = (
        rng.randint(_DIRECTORY_START, _ANCHOR_EPOCH - 86_400) if rng.random() < 0.75 else None
    )
    aus = index % AUS_EVERY == AUS_OFFSET
    return (
        school_id,
        name,
        urn,
        la_code,
        establishment_number,
        phase,
        mis,
        line1,
        line2,
        town_or_none,
        postcode,
        nation,
        flags,
        audit_epoch,
        aus,
    )


def _school_name(rng: random.Random, nation: str, town: str) -> tuple[str, str]:
    """A plausible school name for the nation, and the phase its name implies."""
    roll = rng.random()
    if nation == "Wales" and roll < 0.6:
        words = rng.choice(_WELSH)
        phase = "SECONDARY" if ("Gyfun" in words or "Uwchradd" in words) else "PRIMARY"
        return f"Ysgol {words}", phase
    if roll < 0.22:
        suffix, phase = rng.choice(_FAITH)
        if nation == "Scotland" and "Catholic" not in suffix and "RC" not in suffix:
            suffix, phase = "RC Primary School", "PRIMARY"
        return f"St {rng.choice(_SAINTS)}'s {suffix}", phase
    suffix, phase, _ = rng.choices(_KINDS, _KIND_WEIGHTS)[0]
    if nation == "Northern Ireland" and phase == "SECONDARY" and rng.random() < 0.5:
        suffix = "Integrated College"
    if roll < 0.4:
        return f"{town} {suffix}", phase
    place = rng.choice(_ROOTS) + rng.choice(_ENDINGS)
    if roll < 0.46:
        return f"The {place} School", "NOT APPLICABLE" if phase == "NURSERY" else phase
    return f"{place} {suffix}", phase


def _establishment_number(rng: random.Random, phase: str) -> int:
    """A four-digit establishment number in the band conventionally used for the phase."""
    bands = {
        "NURSERY": (1000, 1099),
        "PRIMARY": (2000, 3999),
        "SECONDARY": (4000, 4999),
        "SPECIAL": (7000, 7099),
        "16 PLUS": (8600, 8699),
    }
    low, high = bands.get(phase, (5000, 6999))
    return rng.randint(low, high)


def _postcode(rng: random.Random, area: str) -> str:
    """A postcode of valid UK shape in ``area``, e.g. ``CB8 7SG``, ``SW1A 1AA``, ``M14 5RB``."""
    if area in _CENTRAL_LONDON and rng.random() < 0.15:
        outward = f"{area}1{rng.choice(_SUB_DISTRICT_LETTERS)}"
    elif len(area) == 1:
        outward = f"{area}{rng.randint(1, 99)}"
    else:
        outward = f"{area}{rng.randint(1, 40)}"
    inward = f"{rng.randint(0, 9)}{rng.choice(_INWARD_LETTERS)}{rng.choice(_INWARD_LETTERS)}"
    return f"{outward} {inward}"
