"""Synthetic staff (employees) and pupils (students) of one school, and their Wonde JSON.

People are generated per school on first access, deterministically from ``(seed, school id)``.

MIS status (an assumption of this emulator; Wonde exposes no such field). Each person has a
ground-truth status, one of ``active``, ``suspended``, ``archived`` and ``left``, in roughly
85/5/5/5 proportions (exact quotas per school, rounded half up, so a school of 20 has one of
each non-active kind). It is exposed through the included relations:

* employees: ``employment_details.data`` carries ``status`` in ``active|suspended|archived``,
  ``current``, ``teaching_staff``, ``employment_start_date`` and ``employment_end_date``.
  A leaver has ``status: "active"``, ``current: false`` and an end date in the past; every
  other person has ``current: true`` and a null end date (suspended and archived staff are
  still on the books, only their MIS status differs).
* students: ``education_details.data`` carries ``admission_number``, ``upn``,
  ``current_nc_year``, ``admission_date``, ``leaving_date`` (a past date for leavers, else
  null) and the same assumed ``status``.

Emails. The ground-truth ``email`` of a person is their school address. In
``contact_details.data.emails`` a person either has it as ``email``, ``primary`` and ``work``
(often with a different personal ``home`` address), or only as ``primary``, or has no email at
all (about 80/10/10 for staff).

Timestamps. ``created_at`` lies in 2016..mid-2024 and ``updated_at`` in mid-2024..the anchor
date; both are distinct across the people of a school and lie before any real start-up.
"""

from __future__ import annotations

import random
import unicodedata
from datetime import date, datetime, timedelta

from .dates import ANCHOR, calendar_date, from_epoch, timestamp

EMPLOYEE, STUDENT = "employee", "student"
KINDS = (EMPLOYEE, STUDENT)
MIS_STATUSES = ("active", "suspended", "archived", "left")

EMPLOYEE_INCLUDES = ("classes", "contact_details", "employment_details")
STUDENT_INCLUDES = ("contact_details", "education_details")

_FEMALE = (
    "Olivia",
    "Amelia",
    "Zoë",
    "Siân",
    "Chloé",
    "Aoife",
    "Niamh",
    "Saoirse",
    "Emily",
    "Sophie",
    "Grace",
    "Hannah",
    "Priya",
    "Aisha",
    "Fatima",
    "Zofia",
    "Agnieszka",
    "Ngozi",
    "Mei",
    "Charlotte",
    "Eleri",
    "Ffion",
    "Rhiannon",
    "Catrin",
    "Seren",
    "Renée",
    "Mairéad",
    "Lucía",
)
_MALE = (
    "Oliver",
    "Harry",
    "Jack",
    "George",
    "Seán",
    "Ciarán",
    "Dafydd",
    "Rhys",
    "Gareth",
    "Iwan",
    "Mohammed",
    "Arjun",
    "Tomasz",
    "Piotr",
    "Kwame",
    "José",
    "André",
    "Liam",
    "Callum",
    "Euan",
    "Hamish",
    "Thomas",
    "James",
    "Daniel",
    "Jürgen",
    "Oisín",
    "Rubén",
    "Kieran",
)
_SURNAMES = (
    "Smith",
    "Jones",
    "Williams",
    "Taylor",
    "Brown",
    "Davies",
    "Evans",
    "Wilson",
    "Thomas",
    "Roberts",
    "Johnson",
    "Lewis",
    "Walker",
    "Robinson",
    "Wright",
    "Thompson",
    "White",
    "Hughes",
    "Edwards",
    "Green",
    "Hall",
    "Wood",
    "Harris",
    "Martin",
    "Jackson",
    "Clarke",
    "O'Brien",
    "O'Connor",
    "D'Souza",
    "McAllister",
    "MacDonald",
    "Nuñez",
    "Kowalczyk",
    "Nowak",
    "Wiśniewski",
    "Patel",
    "Khan",
    "Begum",
    "Ahmed",
    "Singh",
    "Okafor",
    "Mensah",
    "Nguyen",
    "Chen",
    "Müller",
    "Fernández",
    "Smith-Jones",
    "ap Rhys",
    "Ó Briain",
    "Gallagher",
)
_SUBJECTS = ("Ma", "En", "Sc", "Gg", "Hi", "Fr", "Sp", "Ar", "Mu", "PE", "Cy", "RE", "Dt")
_ROLES = ("Main Class Teacher", "Class Teacher", "Teaching Assistant")

_CREATED_FROM = int(datetime(2016, 1, 1, tzinfo=ANCHOR.tzinfo).timestamp())
_UPDATED_FROM = int(datetime(2024, 6, 1, tzinfo=ANCHOR.tzinfo).timestamp())
_ANCHOR_EPOCH = int(ANCHOR.timestamp())


class Person:
    """One employee or student: the mutable record behind both Wonde JSON and ground truth."""

    __slots__ = (
        "kind",
        "id",
        "upi",
        "mis_id",
        "title",
        "forename",
        "middle_names",
        "surname",
        "legal_forename",
        "legal_surname",
        "gender",
        "gender_shared",
        "date_of_birth",
        "created_at",
        "updated_at",
        "restored_at",
        "deleted",
        "status",
        "left",
        "email",
        "email_shape",
        "home_email",
        "phone",
        "mobile",
        "teaching_staff",
        "start_date",
        "end_date",
        "admission_number",
        "upn",
        "nc_year",
    )

    def __init__(self, **fields) -> None:
        for name in self.__slots__:
            setattr(self, name, fields.get(name))
        self.deleted = bool(fields.get("deleted", False))
        self.left = bool(fields.get("left", False))

    @property
    def mis_status(self) -> str:
        """Ground-truth MIS status: ``active``, ``suspended``, ``archived`` or ``left``."""
        return "left" if self.left else self.status

    def set_mis_status(self, status: str, today: date) -> None:
        """Move the person to ``status``; a leaver gets yesterday as end/leaving date."""
        if status not in MIS_STATUSES:
            raise ValueError(f"mis_status must be one of {', '.join(MIS_STATUSES)}")
        self.left = status == "left"
        self.status = "active" if self.left else status
        self.end_date = today - timedelta(days=1) if self.left else None

    def set_email(self, email: str | None) -> None:
        """Replace the school email; None removes every school address."""
        self.email = email or None
        if self.email is None:
            self.email_shape = "none"
        elif self.email_shape == "none":
            self.email_shape = "full"

    def ground_truth(self) -> dict:
        """The control API's view of the person, as the MIS holds it."""
        return {
            "id": self.id,
            "mis_id": self.mis_id,
            "forename": self.forename,
            "surname": self.surname,
            "email": self.email,
            "mis_status": self.mis_status,
            "deleted": self.deleted,
        }


class PeopleFactory:
    """Generates the people of one school from a private random stream."""

    def __init__(self, seed: int, school_id: str, school_name: str, phase: str) -> None:
        self.rng = random.Random(f"wonde-emulator/people/{seed}/{school_id}")
        self.email_domain = _email_domain(school_name)
        self.phase = phase
        self._ids: set[str] = set()
        self._mis_ids: set[str] = set()
        self._emails: set[str] = set()

    def generate(self, kind: str, count: int) -> list[Person]:
        """``count`` people of ``kind`` with exact status quotas and distinct timestamps."""
        rng = self.rng
        statuses = _status_quota(count)
        rng.shuffle(statuses)
        created = sorted(rng.sample(range(_CREATED_FROM, _UPDATED_FROM), count))
        updated = rng.sample(range(_UPDATED_FROM, _ANCHOR_EPOCH), count)
        people = []
        for position in range(count):
            person = self._person(kind, from_epoch(created[position]))
            person.updated_at = from_epoch(updated[position])
            person.set_mis_status(statuses[position], ANCHOR.date())
            if person.left:
                # Leavers left at some point before the anchor, not all on one day.
                person.end_date = ANCHOR.date() - timedelta(days=rng.randint(2, 700))
                if person.start_date and person.end_date <= person.start_date:
                    person.start_date = person.end_date - timedelta(days=365)
            people.append(person)
        return people

    def added(
        self, kind: str, forename: str, surname: str, email: str | None, now: datetime
    ) -> Person:
        """A new active person created at ``now`` (control API), with the given names."""
        person = self._person(kind, now)
        person.updated_at = now
        person.forename, person.surname = forename, surname
        person.legal_forename, person.legal_surname = forename, surname
        person.middle_names = None
        person.set_mis_status("active", now.date())
        person.email_shape = "full"
        person.set_email(email)
        person.start_date = now.date()
        return person

    def _person(self, kind: str, created_at: datetime) -> Person:
        """One person with all generated fields; status and updated_at are set by the caller."""
        rng = self.rng
        female = rng.random() < (0.7 if kind == EMPLOYEE else 0.5)
        forename = rng.choice(_FEMALE if female else _MALE)
        surname = rng.choice(_SURNAMES)
        middle = rng.choice(_FEMALE if female else _MALE) if rng.random() < 0.25 else None
        legal_shared = rng.random() < 0.85
        if kind == EMPLOYEE:
            title = rng.choice(("Mrs", "Miss", "Ms", "Dr") if female else ("Mr", "Mr", "Dr"))
            birth = date(1960, 1, 1) + timedelta(days=rng.randint(0, 365 * 40))
            nc_year = None
        else:
            title = None
            nc_year = self._nc_year()
            birth = _birth_date_for_year(rng, nc_year)
        roll = rng.random()
        shape = "full" if roll < 0.8 else ("primary" if roll < 0.9 else "none")
        if kind == STUDENT:
            # Most pupils have no school address on record, older ones sometimes do.
            shape = "full" if roll < 0.4 else "none"
        email = self._email(forename, surname) if shape != "none" else None
        local = _ascii(forename).lower() + "." + _ascii(surname).lower()
        home = f"{local}{rng.randint(1, 99)}@example.com" if rng.random() < 0.4 else None
        if kind == EMPLOYEE:
            start = date(1995, 9, 1) + timedelta(days=rng.randint(0, 365 * 29))
        else:
            # Pupils joined in some September up to their current year group.
            joined = 2024 - rng.randint(0, 0 if nc_year == "R" else int(nc_year))
            start = date(joined, 9, 1) + timedelta(days=rng.choice((0, 0, 0, 2, 30, 120)))
        return Person(
            kind=kind,
            id=self._unique(self._ids, lambda: f"A{rng.randrange(10**9, 10**10)}"),
            upi=f"{rng.getrandbits(128):032x}",
            mis_id=self._unique(self._mis_ids, lambda: str(rng.randint(1000, 99999))),
            title=title,
            forename=forename,
            middle_names=middle,
            surname=surname,
            legal_forename=forename if legal_shared else None,
            legal_surname=surname if legal_shared else None,
            gender="FEMALE" if female else "MALE",
            gender_shared=rng.random() < 0.8,
            date_of_birth=birth if rng.random() < 0.8 else None,
            created_at=created_at,
            restored_at=None,
            email=email,
            email_shape=shape,
            home_email=home,
            phone=f"01632 960{rng.randint(0, 999):03d}" if rng.random() < 0.6 else None,
            mobile=f"07700 900{rng.randint(0, 999):03d}" if rng.random() < 0.5 else None,
            teaching_staff=rng.random() < 0.6,
            start_date=start,
            admission_number=f"{rng.randint(1, 9999):06d}",
            upn=f"{rng.choice('ABCDEFGHJKLMNPQRTUVWXYZ')}{rng.randint(0, 10**12 - 1):012d}",
            nc_year=nc_year,
        )

    def _nc_year(self) -> str:
        """A National Curriculum year that fits the school's phase ("R" is Reception)."""
        if self.phase in ("PRIMARY", "NOT APPLICABLE DEEMED PRIMARY", "NURSERY"):
            years = ["R", *map(str, range(1, 7))]
        elif self.phase in ("SECONDARY", "NOT APPLICABLE DEEMED SECONDARY"):
            years = [str(year) for year in range(7, 14)]
        elif self.phase == "16 PLUS":
            years = ["12", "13"]
        else:
            years = ["R", *map(str, range(1, 14))]
        return self.rng.choice(years)

    def _email(self, forename: str, surname: str) -> str:
        """A school address unique within the school, e.g. ``z.obrien@oakfield.school.example``."""
        base = f"{_ascii(forename)[:1]}.{_ascii(surname)}".lower()
        candidate, number = base, 1
        while f"{candidate}@{self.email_domain}" in self._emails:
            number += 1
            candidate = f"{base}{number}"
        address = f"{candidate}@{self.email_domain}"
        self._emails.add(address)
        return address

    @staticmethod
    def _unique(taken: set[str], draw) -> str:
        """Draw values until one is not in ``taken``; record and return it."""
        value = draw()
        while value in taken:
            value = draw()
        taken.add(value)
        return value


def render_person(person: Person, includes: set[str]) -> dict:
    """Wonde JSON for a person, with the requested (supported) includes wrapped in ``data``."""
    common = {
        "id": person.id,
        "upi": person.upi,
        "mis_id": person.mis_id,
        "initials": _initials(person),
    }
    if person.kind == EMPLOYEE:
        common["title"] = person.title
    common.update(
        {
            "surname": person.surname,
            "forename": person.forename,
            "middle_names": person.middle_names,
            "legal_surname": person.legal_surname,
            "legal_forename": person.legal_forename,
            "gender": person.gender if person.gender_shared else None,
            "date_of_birth": calendar_date(person.date_of_birth),
            "restored_at": timestamp(person.restored_at),
        }
    )
    # Wonde's captures order these differently for employees and students.
    if person.kind == EMPLOYEE:
        common["updated_at"] = timestamp(person.updated_at)
        common["created_at"] = timestamp(person.created_at)
    else:
        common["created_at"] = timestamp(person.created_at)
        common["updated_at"] = timestamp(person.updated_at)
    if person.kind == EMPLOYEE:
        if "employment_details" in includes:
            common["employment_details"] = {"data": _employment_details(person)}
        if "classes" in includes:
            common["classes"] = {"data": _classes(person)}
    elif "education_details" in includes:
        common["education_details"] = {"data": _education_details(person)}
    if "contact_details" in includes:
        common["contact_details"] = {"data": _contact_details(person)}
    return common


def _employment_details(person: Person) -> dict:
    return {
        "current": not person.left,
        "teaching_staff": person.teaching_staff,
        "employment_start_date": calendar_date(person.start_date),
        "employment_end_date": calendar_date(person.end_date),
        "status": person.status,
    }


def _education_details(person: Person) -> dict:
    return {
        "admission_number": person.admission_number,
        "upn": person.upn,
        "local_upn": None,
        "former_upn": None,
        "learner_number": None,
        "current_nc_year": person.nc_year,
        "part_time": False,
        "part_time_rate": None,
        "admission_date": calendar_date(person.start_date),
        "leaving_date": calendar_date(person.end_date),
        "status": person.status,
    }


def _contact_details(person: Person) -> dict:
    school = person.email
    full = person.email_shape == "full"
    salutation = f"{person.title} {person.surname}" if person.title else None
    return {
        "salutation": salutation,
        "emails": {
            "email": school if full else None,
            "primary": school,
            "home": person.home_email,
            "work": school if full and person.kind == EMPLOYEE else None,
        },
        "phones": {
            "phone": person.phone or person.mobile,
            "primary": person.phone or person.mobile,
            "home": None,
            "work": person.phone if person.kind == EMPLOYEE else None,
            "mobile": person.mobile,
        },
        "addresses": {"home": None, "work": None, "postal": None},
    }


def _classes(person: Person) -> list[dict]:
    """Classes of a teacher, derived from the person's id so they need no storage."""
    if not person.teaching_staff:
        return []
    rng = random.Random(f"wonde-emulator/classes/{person.id}")
    classes = []
    for _ in range(rng.randint(1, 4)):
        year = rng.randint(7, 11)
        name = f"{year}{rng.choice('ABCDE')}/{rng.choice(_SUBJECTS)}{rng.randint(1, 3)}"
        created = from_epoch(rng.randint(_CREATED_FROM, _UPDATED_FROM))
        main = rng.random() < 0.7
        classes.append(
            {
                "id": f"A{rng.randrange(10**9, 10**10)}",
                "mis_id": str(rng.randint(10000, 99999)),
                "name": name,
                "code": None,
                "description": name,
                "subject": f"A{rng.randrange(10**9, 10**10)}",
                "alternative": None,
                "priority": None,
                "restored_at": None,
                "created_at": timestamp(created),
                "updated_at": timestamp(created + timedelta(days=rng.randint(1, 300))),
                "meta": {
                    "is_main_teacher": main,
                    "is_class_teacher": True,
                    "role": _ROLES[0] if main else _ROLES[1],
                    "all_roles": [_ROLES[0], _ROLES[1]] if main else [_ROLES[1]],
                },
            }
        )
    return classes


def _initials(person: Person) -> str:
    names = [person.forename, *(person.middle_names or "").split(), person.surname]
    return "".join(name[:1].upper() for name in names if name)


def _status_quota(count: int) -> list[str]:
    """Statuses for ``count`` people: 5% each of suspended/archived/left, rounded half up."""
    each = int(count * 0.05 + 0.5)
    if 3 * each > count:
        each = count // 3
    return (
        ["suspended"] * each
        + ["archived"] * each
        + ["left"] * each
        + ["active"] * (count - 3 * each)
    )


def _birth_date_for_year(rng: random.Random, nc_year: str) -> date:
    """A date of birth that fits the NC year in the 2025/26 academic year."""
    offset = 0 if nc_year == "R" else int(nc_year)
    first = date(2020 - offset, 9, 1)
    return first + timedelta(days=rng.randint(0, 364))


def _ascii(text: str) -> str:
    """Letters only, accents folded: ``O'Brien`` -> ``OBrien``, ``Zoë`` -> ``Zoe``."""
    folded = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in folded if ch.isascii() and ch.isalpha())


def _email_domain(school_name: str) -> str:
    """A school mail domain under the reserved ``.example`` TLD, so no mail goes anywhere."""
    words = [w for w in (_ascii(word).lower() for word in school_name.split()) if w]
    skip = {"school", "primary", "academy", "the", "of", "c", "e", "ce", "rc", "st"}
    kept = [w for w in words if w not in skip] or words
    return "".join(kept[:2]) + ".school.example"
