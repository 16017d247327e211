"""Wonde school objects as catalog rows: the columns, where each comes from, and the rules.

Every value is text (URNs arrive as numbers, establishment numbers as either), stripped,
with what no database can store made storable; blanks are None, postcodes upper case.
Built with plain Python: one tuple per school, written to staging as it is.
"""

from __future__ import annotations

from wonde_sync.wonde.objects import dig, storable_text

#: Catalog column → path in Wonde's school object.
SCHOOL_FIELDS: dict[str, tuple[str, ...]] = {
    "id": ("id",),
    "name": ("name",),
    "urn": ("urn",),
    "la_code": ("la_code",),
    "establishment_number": ("establishment_number",),
    "phase_of_education": ("phase_of_education",),
    "mis": ("mis",),
    "address_line_1": ("address", "address_line_1"),
    "address_line_2": ("address", "address_line_2"),
    "address_town": ("address", "address_town"),
    "postcode": ("address", "address_postcode"),
    "country_code": ("address", "address_country", "code"),
    "country_name": ("address", "address_country", "name"),
    "region_code": ("region", "code"),
    "region_domain": ("region", "domain"),
    "timezone": ("timezone",),
}
CATALOG_COLUMNS = list(SCHOOL_FIELDS)
REQUIRED_COLUMNS = ("id", "name")


def _clean_text(value) -> str | None:
    if type(value) is str and value.isascii() and "\x00" not in value:
        return value.strip() or None  # the usual case, without a regular expression
    if value is None or (isinstance(value, float) and value != value):  # null, NaN
        return None
    return storable_text(str(value)).strip() or None


#: Each catalog column as (the object holding it, its key): one lookup per object a record.
_PARENTS = sorted({path[:-1] for path in SCHOOL_FIELDS.values()}, key=len)
_LEAVES = [(_PARENTS.index(path[:-1]), path[-1]) for path in SCHOOL_FIELDS.values()]
_POSTCODE = CATALOG_COLUMNS.index("postcode")


def school_row(record: dict) -> tuple:
    """A Wonde school object as a catalog row (CATALOG_COLUMNS), all text, blanks as None."""
    parents = [dig(record, *path) for path in _PARENTS]
    row = [
        _clean_text(parents[i].get(key)) if isinstance(parents[i], dict) else None
        for i, key in _LEAVES
    ]
    if row[_POSTCODE] is not None:
        row[_POSTCODE] = row[_POSTCODE].upper()
    return tuple(row)


def rejection(row: tuple) -> str:
    """Why a catalog row cannot enter the catalog ("" when it can)."""
    for column in REQUIRED_COLUMNS:
        if row[CATALOG_COLUMNS.index(column)] is None:
            return f"missing {column}"
    return ""
