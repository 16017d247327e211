"""Wonde school objects as catalog rows: the columns, where each comes from, and the rules.

Every value is text (URNs arrive as numbers, establishment numbers as either), stripped,
with what no database can store made storable; blanks are None, postcodes upper case.
Built with plain Python: one tuple per school, written to staging as it is.
"""

from __future__ import annotations

from wonde_sync.wonde.objects import storable_text

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
    if value is None or (isinstance(value, float) and value != value):  # null, NaN
        return None
    return storable_text(str(value)).strip() or None


def _grouped_by_object() -> list[tuple[tuple[str, ...], list[tuple[int, str]]]]:
    objects: dict[tuple[str, ...], list[tuple[int, str]]] = {}
    for position, path in enumerate(SCHOOL_FIELDS.values()):
        objects.setdefault(path[:-1], []).append((position, path[-1]))
    return list(objects.items())


#: Each object holding catalog fields (its path) with the fields' positions and keys.
_OBJECTS = _grouped_by_object()
_POSTCODE = CATALOG_COLUMNS.index("postcode")


def school_row(record: dict) -> tuple:
    """A Wonde school object as a catalog row (CATALOG_COLUMNS), all text, blanks as None."""
    row: list[str | None] = [None] * len(CATALOG_COLUMNS)
    for path, fields in _OBJECTS:
        held = record
        for key in path:
            held = held.get(key) if type(held) is dict else None
        if type(held) is not dict:
            continue
        for position, key in fields:
            value = held.get(key)
            # The usual case inline: a catalog has a hundred thousand rows of sixteen fields.
            if type(value) is str and value.isascii() and "\x00" not in value:
                row[position] = value.strip() or None
            elif value is not None:
                row[position] = _clean_text(value)
    if row[_POSTCODE] is not None:
        row[_POSTCODE] = row[_POSTCODE].upper()
    return tuple(row)


def rejection(row: tuple) -> str:
    """Why a catalog row cannot enter the catalog ("" when it can)."""
    for column in REQUIRED_COLUMNS:
        if row[CATALOG_COLUMNS.index(column)] is None:
            return f"missing {column}"
    return ""
