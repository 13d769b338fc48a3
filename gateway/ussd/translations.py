"""Every text of a tree out to a spreadsheet (XLSX) or a PO file, and back in, checked.

A row is one text in one language, with its review status. Importing never applies a
text blindly: each is checked (known id, not empty, GSM-7, its screens still fit) and
the editor shows what would change before anything does.
"""

from __future__ import annotations

import io
import re
from copy import deepcopy
from dataclasses import dataclass

import polib
from openpyxl import Workbook, load_workbook

from menus import editing
from menus.gsm import outside_gsm7
from menus.texts import Data, TextIdError, find, node_of, set_review, text_ids, to_review
from menus.tree import TreeError, parse_tree
from menus.validate import validate

# Spreadsheet columns, in order.
COLUMNS = ("id", "language", "text", "status", "english")
# Review statuses as written in the files.
NEEDS_REVIEW = "needs review"
REVIEWED = "reviewed"
# The language translators read from.
SOURCE_LANGUAGE = "en"
# Most rows an imported file may hold.
MAX_ROWS = 20_000
_PLACEHOLDER = re.compile(r"\{([a-z_.:]+)\}")
_WHERE = re.compile(r"^(?:node (?P<node>[^\s:]+)|string (?P<string>[^\s:]+)).*\((?P<lang>[a-z]{2})\): ")


class TranslationFileError(ValueError):
    """A file that cannot be read as translations; the message says why."""


@dataclass(frozen=True)
class Row:
    """One text of an imported file."""

    text_id: str
    lang: str
    text: str
    # None when the file does not say.
    needs_review: bool | None


@dataclass(frozen=True)
class Planned:
    """What importing one row would do, or why it is refused."""

    row: Row
    old: str
    old_review: bool
    problem: str = ""

    @property
    def changes(self) -> bool:
        review_changes = self.row.needs_review is not None and self.row.needs_review != self.old_review
        return self.row.text != self.old or review_changes


# --- export -----------------------------------------------------------------------------


def export_xlsx(data: Data) -> bytes:
    pending = to_review(data)
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Translations"
    sheet.append(list(COLUMNS))
    for tid, texts in text_ids(data):
        for lang in data["languages"]:
            status = NEEDS_REVIEW if (tid, lang) in pending else REVIEWED
            sheet.append([tid, lang, texts.get(lang, ""), status, texts.get(SOURCE_LANGUAGE, "")])
            for cell in sheet[sheet.max_row]:
                # A text starting with "=" is a text, not a formula for the spreadsheet to run.
                if isinstance(cell.value, str) and cell.value.startswith("="):
                    cell.data_type = "s"
    for column, width in zip("ABCDE", (42, 9, 60, 14, 60), strict=True):
        sheet.column_dimensions[column].width = width
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def export_po(data: Data, lang: str) -> bytes:
    if lang not in data["languages"]:
        raise TranslationFileError(f"the tree has no language {lang!r}")
    pending = to_review(data)
    po = polib.POFile()
    po.metadata = {"Language": lang, "Content-Type": "text/plain; charset=UTF-8", "MIME-Version": "1.0"}
    for tid, texts in text_ids(data):
        entry = polib.POEntry(
            msgctxt=tid,
            msgid=texts.get(SOURCE_LANGUAGE) or tid,
            msgstr=texts.get(lang, ""),
            flags=["fuzzy"] if (tid, lang) in pending else [],
        )
        po.append(entry)
    return str(po).encode("utf-8")


# --- import -----------------------------------------------------------------------------


def read_file(filename: str, content: bytes) -> list[Row]:
    """The rows of an uploaded .xlsx or .po file."""
    name = filename.lower()
    if name.endswith(".xlsx"):
        return _read_xlsx(content)
    if name.endswith(".po"):
        return _read_po(content)
    raise TranslationFileError("choose an .xlsx or a .po file exported from this page")


def _read_xlsx(content: bytes) -> list[Row]:
    try:
        book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception:
        raise TranslationFileError("this is not a readable XLSX spreadsheet") from None
    sheet = book.worksheets[0]
    rows = sheet.iter_rows(values_only=True)
    header = [str(c or "").strip().lower() for c in next(rows, ())]
    missing = [c for c in ("id", "language", "text") if c not in header]
    if missing:
        raise TranslationFileError(f"the first row must name the columns; missing: {', '.join(missing)}")
    at = {name: header.index(name) for name in COLUMNS if name in header}
    result = []
    for number, values in enumerate(rows, start=2):
        if number > MAX_ROWS:
            raise TranslationFileError(f"more than {MAX_ROWS} rows")

        def cell(name: str, values: tuple[object, ...] = values) -> str:
            i = at.get(name)
            return "" if i is None or i >= len(values) or values[i] is None else str(values[i])

        if not cell("id").strip():
            continue
        status = cell("status").strip().lower()
        review = None if not status else status == NEEDS_REVIEW
        result.append(Row(cell("id").strip(), cell("language").strip().lower(), cell("text"), review))
    book.close()
    return result


def _read_po(content: bytes) -> list[Row]:
    try:
        po = polib.pofile(content.decode("utf-8"))
    except (UnicodeDecodeError, OSError, ValueError):
        raise TranslationFileError("this is not a readable PO file (UTF-8)") from None
    lang = po.metadata.get("Language", "").strip().lower()
    if not lang:
        raise TranslationFileError("the PO file does not say its Language")
    if len(po) > MAX_ROWS:
        raise TranslationFileError(f"more than {MAX_ROWS} entries")
    return [
        Row(entry.msgctxt or "", lang, entry.msgstr, "fuzzy" in entry.flags)
        for entry in po
        if entry.msgctxt and entry.msgstr
    ]


def plan(data: Data, rows: list[Row], max_chars: int) -> list[Planned]:
    """Check each row against the tree: what it would change, or why it is refused."""
    pending = to_review(data)
    planned: list[Planned] = []
    for row in rows:
        try:
            texts = find(data, row.text_id)
        except TextIdError:
            planned.append(Planned(row, "", False, "the tree has no text with this id"))
            continue
        old, old_review = texts.get(row.lang, ""), (row.text_id, row.lang) in pending
        problem = ""
        if row.lang not in data["languages"]:
            problem = f"the tree has no language {row.lang!r}"
        elif not row.text.strip():
            problem = "the text is empty"
        elif bad := outside_gsm7(_PLACEHOLDER.sub("", row.text)):
            problem = f"{''.join(bad)!r} is outside the GSM 7-bit alphabet"
        elif set(_PLACEHOLDER.findall(row.text)) != set(_PLACEHOLDER.findall(old or row.text)):
            problem = "the {placeholders} must stay as they are: " + ", ".join(sorted(_PLACEHOLDER.findall(old)))
        planned.append(Planned(row, old, old_review, problem))
    # Screens: apply what passed, measure, and refuse the texts whose screens no longer fit.
    for _ in range(2):
        trial = apply(data, [p for p in planned if not p.problem and p.changes])
        new_problems = _screen_problems(trial, max_chars) - _screen_problems(data, max_chars)
        if not new_problems:
            break
        planned = [_refuse_if_measured(p, new_problems) for p in planned]
    return planned


def _screen_problems(data: Data, max_chars: int) -> set[str]:
    try:
        return set(validate(parse_tree(editing.dump(data)), max_chars))
    except TreeError as exc:
        return {str(exc)}


def _refuse_if_measured(planned: Planned, problems: set[str]) -> Planned:
    if planned.problem or not planned.changes:
        return planned
    for problem in sorted(problems):
        match = _WHERE.match(problem)
        if not match or match["lang"] != planned.row.lang:
            continue
        tid = planned.row.text_id
        same_node = match["node"] and node_of(tid) == match["node"]
        if same_node or (match["string"] and tid == f"strings.{match['string']}"):
            return Planned(planned.row, planned.old, planned.old_review, problem)
    return planned


def apply(data: Data, accepted: list[Planned]) -> Data:
    """A copy of data with the accepted rows' texts and review statuses."""
    result = deepcopy(data)
    pending = to_review(result)
    for planned in accepted:
        row = planned.row
        find(result, row.text_id)[row.lang] = row.text
        if row.needs_review is True:
            pending.add((row.text_id, row.lang))
        elif row.needs_review is False:
            pending.discard((row.text_id, row.lang))
    set_review(result, pending)
    return result
