"""Imports of the place list and the registries of officers and volunteers.

Every import is all or nothing: a bad row is reported with its line number and
nothing of the file is kept. A dry run (dry_run=True) changes nothing and says what the file
would do, line by line (the admin web's preview before an upload is committed).
"""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.models import Location, Officer, Volunteer
from gateway.phones import InvalidPhoneError, normalize
from gateway.runtime import Runtime
from gateway.ussd import callers
from gateway.vocabulary import DEFAULT_LANGUAGE, Language, OfficerRole

# The copy of Rwanda's divisions shipped with the gateway.
SHIPPED_LOCATIONS = Path(__file__).parent / "data" / "rwanda-locations.json"
OFFICER_COLUMNS = ["name", "phone", "role", "district", "sector", "on_duty", "language"]
VOLUNTEER_COLUMNS = ["name", "phone", "district", "sector", "cell", "village", "language"]
_ROMAN = re.compile(r"\b(i{1,3}|iv|vi{0,3}|ix)\b", re.IGNORECASE)
_TRUE = {"1", "yes", "true", "y", "on"}
_FALSE = {"0", "no", "false", "n", "off", ""}
# progress(done, total), called as an import goes (the command line shows it).
Progress = Callable[[int, int], None]


class RegistryImportError(ValueError):
    """A file that cannot be imported; lists every bad line."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class WrongFileError(RegistryImportError):
    """A file that is not the CSV asked for (its header is not the columns)."""


def clean_name(raw: str) -> str:
    """A place or person name with stray and non-breaking spaces gone, and II for Ii."""
    name = unicodedata.normalize("NFKC", raw).replace("\u00a0", " ")
    name = " ".join(name.split())
    words = name.split(" ")
    return " ".join([words[0], *[_ROMAN.sub(lambda m: m.group(0).upper(), w) for w in words[1:]]])


def path_key(*names: str) -> str:
    """The case-free key of a place: its names from the district down."""
    return "/".join(clean_name(n).casefold() for n in names)


def find_district(session: Session, name: str) -> Location | None:
    """The district of that name (any case, stray spaces), or None."""
    return session.scalar(select(Location).where(Location.path == path_key(name), Location.level == "district"))


@dataclass
class ImportSummary:
    """What an import did (or, a dry run, would do): rows added, updated, unchanged, refused."""

    created: int = 0
    # Rows of people already registered whose fields change (places: renamed).
    updated: int = 0
    # Rows of deactivated volunteers, kept in the file but left inactive (updated or unchanged).
    inactive: int = 0
    # Rows of people already registered whose every field stays the same.
    unchanged: int = 0
    # (line, "added" | "updated" | "unchanged", name) of every good row.
    lines: list[tuple[int, str, str]] = field(default_factory=list)
    # A dry run's refused lines ("line N: why"); a real import raises them instead.
    problems: list[str] = field(default_factory=list)

    def note(self, line: int, person: Officer | Volunteer, before: tuple[object, ...] | None) -> None:
        """Count one good row: added (before is None), updated, or unchanged."""
        if before is None:
            self.created += 1
            self.lines.append((line, "added", person.name))
            return
        same = before == _fields(person)
        if same:
            self.unchanged += 1
        else:
            self.updated += 1
        self.lines.append((line, "unchanged" if same else "updated", person.name))

    @property
    def refused(self) -> int:
        return len(self.problems)

    def said(self) -> str:
        """The counts in words, e.g. "2 added, 1 updated, 5 unchanged" (and ", 1 refused" for a dry
        run that refused lines); the command line, the admin web and the audit log say this."""
        counts = f"{self.created} added, {self.updated} updated, {self.unchanged} unchanged"
        return counts + (f", {self.refused} refused" if self.problems else "")


def _fields(person: Officer | Volunteer) -> tuple[object, ...]:
    if isinstance(person, Officer):
        return (
            person.name,
            person.role,
            person.district_id,
            person.sector_id,
            person.on_duty,
            person.language,
            person.active,
        )
    return (person.name, person.village_id, person.language, person.active)


def _no_progress(done: int, total: int) -> None:
    pass


def _flatten(data: Any) -> list[tuple[str, str, str, int | None]]:
    """(level, name, path, index of the parent) of every place, parents first.

    A wrongly shaped file raises KeyError or TypeError.
    """
    places: list[tuple[str, str, str, int | None]] = []

    def add(level: str, name: str, path: str, parent: int | None) -> int:
        places.append((level, name, path, parent))
        return len(places) - 1

    for province in data["provinces"]:
        p = add("province", province["name"], "province:" + path_key(province["name"]), None)
        for district in province["districts"]:
            d = add("district", district["name"], path_key(district["name"]), p)
            for sector in district["sectors"]:
                s_names = (district["name"], sector["name"])
                s = add("sector", sector["name"], path_key(*s_names), d)
                for cell in sector["cells"]:
                    c_names = (*s_names, cell["name"])
                    c = add("cell", cell["name"], path_key(*c_names), s)
                    for village in cell["villages"]:
                        add("village", village["name"], path_key(*c_names, village["name"]), c)
    return places


def import_locations(rt: Runtime, source: Path = SHIPPED_LOCATIONS, progress: Progress = _no_progress) -> ImportSummary:
    """Load the hierarchy (provinces to villages); existing places keep their ids."""
    try:
        places = _flatten(json.loads(source.read_text(encoding="utf-8")))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise RegistryImportError([f"{source.name} is not a place list in JSON like the shipped one ({exc})"]) from None
    summary = ImportSummary()
    ids: list[int] = []
    with rt.db.transaction() as session:
        known = {
            path: (pid, name) for pid, path, name in session.execute(select(Location.id, Location.path, Location.name))
        }
        for done, (level, raw_name, path, parent) in enumerate(places):
            progress(done, len(places))
            name = clean_name(raw_name)
            if path in known:
                pid, old_name = known[path]
                if old_name != name:
                    session.get_one(Location, pid).name = name
                    summary.updated += 1
                ids.append(pid)
                continue
            row = Location(level=level, name=name, path=path, parent_id=None if parent is None else ids[parent])
            session.add(row)
            session.flush()
            known[path] = (row.id, name)
            summary.created += 1
            ids.append(row.id)
        progress(len(places), len(places))
    rt.places.changed()
    return summary


def _rows(text: str, columns: list[str]) -> Iterable[tuple[int, dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip().lower() for h in reader.fieldnames or []]
    if header != columns:
        raise WrongFileError([f"line 1: the header must be {','.join(columns)}"])
    reader.fieldnames = header
    for row in reader:
        yield reader.line_num, {k: (v or "").strip() for k, v in row.items() if k is not None}


def _place(session: Session, names: list[str]) -> Location | None:
    return session.scalar(select(Location).where(Location.path == path_key(*names)))


def _people(
    text: str, columns: list[str], problems: list[str], progress: Progress
) -> Iterator[tuple[int, dict[str, str], str, str]]:
    """(line, row, phone, language) of each row whose name, phone and language are good.

    A bad or repeated one is added to problems instead. progress hears of each row.
    """
    seen: dict[str, int] = {}
    rows = list(_rows(text, columns))
    for done, (line, row) in enumerate(rows):
        progress(done, len(rows))
        if not row.get("name"):
            problems.append(f"line {line}: the name is empty")
            continue
        try:
            phone = normalize(row.get("phone", ""))
        except InvalidPhoneError:
            problems.append(f"line {line}: {row.get('phone')!r} is not a valid phone number")
            continue
        language = (row.get("language") or DEFAULT_LANGUAGE).lower()
        if language not in tuple(Language):
            problems.append(f"line {line}: language must be one of {', '.join(Language)}")
            continue
        if phone in seen:
            problems.append(f"line {line}: {phone} is already on line {seen[phone]}")
            continue
        seen[phone] = line
        yield line, row, phone, language
    progress(len(rows), len(rows))


def import_officers(rt: Runtime, text: str, progress: Progress = _no_progress, dry_run: bool = False) -> ImportSummary:
    """Add or update officers by phone number from the officers CSV (dry_run: only say what would change)."""
    problems: list[str] = []
    summary = ImportSummary()
    with rt.db.transaction() as session:
        for line, row, phone, language in _people(text, OFFICER_COLUMNS, problems, progress):
            role = row["role"].lower()
            if role not in tuple(OfficerRole):
                problems.append(f"line {line}: role must be one of {', '.join(OfficerRole)}")
                continue
            on_duty = row["on_duty"].lower()
            if on_duty not in _TRUE | _FALSE:
                problems.append(f"line {line}: on_duty must be yes or no")
                continue
            district = _place(session, [row["district"]]) if row["district"] else None
            if row["district"] and (district is None or district.level != "district"):
                problems.append(f"line {line}: no district named {row['district']!r}")
                continue
            if district is None and role != OfficerRole.NATIONAL_DESK:
                problems.append(f"line {line}: a {role} needs a district")
                continue
            sector = _place(session, [row["district"], row["sector"]]) if row["sector"] else None
            if row["sector"] and sector is None:
                problems.append(f"line {line}: no sector {row['sector']!r} in {row['district']}")
                continue
            if role == OfficerRole.SECTOR_CONTACT and sector is None:
                problems.append(f"line {line}: a sector_contact needs a sector")
                continue
            officer = session.scalar(select(Officer).where(Officer.phone == phone))
            before = None if officer is None else _fields(officer)
            if officer is None:
                officer = Officer(phone=phone)
                session.add(officer)
            officer.name = clean_name(row["name"])
            officer.role = role
            officer.district_id = district.id if district else None
            officer.sector_id = sector.id if sector else None
            officer.on_duty = on_duty in _TRUE
            officer.language = language
            officer.active = True
            summary.note(line, officer, before)
        _settle(session, summary, problems, dry_run)
    return summary


def import_volunteers(
    rt: Runtime, text: str, progress: Progress = _no_progress, dry_run: bool = False
) -> ImportSummary:
    """Add or update volunteers by phone number from the volunteers CSV (dry_run: only say what would change)."""
    problems: list[str] = []
    summary = ImportSummary()
    phones: list[str] = []
    with rt.db.transaction() as session:
        for line, row, phone, language in _people(text, VOLUNTEER_COLUMNS, problems, progress):
            phones.append(phone)
            names = [row["district"], row["sector"], row["cell"], row["village"]]
            village = _place(session, names)
            if village is None or village.level != "village":
                problems.append(f"line {line}: no village {'/'.join(names)!r}")
                continue
            volunteer = session.scalar(select(Volunteer).where(Volunteer.phone == phone))
            before = None if volunteer is None else _fields(volunteer)
            if volunteer is None:
                volunteer = Volunteer(phone=phone, active=True)
                session.add(volunteer)
            else:
                # A deactivation is deliberate: a file that still lists the volunteer keeps it.
                summary.inactive += 0 if volunteer.active else 1
            volunteer.name = clean_name(row["name"])
            volunteer.village_id = village.id
            volunteer.language = language
            summary.note(line, volunteer, before)
        if not _settle(session, summary, problems, dry_run):
            return summary
    callers.forget(rt, [rt.crypto.lookup_hash(p) for p in phones])
    return summary


def _settle(session: Session, summary: ImportSummary, problems: list[str], dry_run: bool) -> bool:
    """End an import: a dry run keeps nothing and lists the problems in the summary; a file with
    problems keeps nothing and raises them; otherwise True (the caller's transaction commits)."""
    if dry_run or problems:
        session.rollback()
    if dry_run:
        summary.problems = problems
        return False
    if problems:
        raise RegistryImportError(problems)
    return True
