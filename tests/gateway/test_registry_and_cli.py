"""The command line as an administrator uses it: places, registries, menus, demo."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from gateway.models import Location, MenuVersion, Officer, Volunteer
from menus.tree import default_tree
from tests.helpers import Dial

OFFICERS_HEADER = "name,phone,role,district,sector,on_duty,language\n"
VOLUNTEERS_HEADER = "name,phone,district,sector,cell,village,language\n"


def _write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_places_are_loaded_with_the_real_counts(rt):
    with rt.db.reading() as session:
        counts = dict(session.execute(select(Location.level, func.count()).group_by(Location.level)).all())
    assert counts == {"province": 5, "district": 30, "sector": 416, "cell": 2148, "village": 14841}


def test_locations_import_again_changes_nothing(runner):
    result = runner.invoke(args=["locations", "import"])
    assert result.exit_code == 0, result.output
    assert "locations: 0 added, 0 renamed" in result.output


def test_place_names_are_cleaned(rt):
    with rt.db.reading() as session:
        names = session.scalars(select(Location.name)).all()
    assert not [n for n in names if n != n.strip() or "\u00a0" in n or "  " in n]
    assert "Rutagara II" in names and "Rutagara Ii" not in names


def test_officers_import_matches_names_without_regard_to_case(runner, rt, tmp_path):
    csv = OFFICERS_HEADER + (
        "Alice Uwase,0788000111,social_worker,nyarugenge,,yes,en\n"
        "Jean Bosco,+250788000444,sector_contact,NYARUGENGE,kimisagara,no,rw\n"
        "Desk,+250788000999,national_desk,,,yes,fr\n"
    )
    result = runner.invoke(args=["officers", "import", _write(tmp_path, "o.csv", csv)])
    assert result.exit_code == 0, result.output
    assert "officers: 3 added, 0 updated, 0 unchanged" in result.output
    with rt.db.reading() as session:
        alice = session.scalar(select(Officer).where(Officer.phone == "+250788000111"))
        assert (alice.role, alice.district.name, alice.on_duty, alice.language) == (
            "social_worker",
            "Nyarugenge",
            True,
            "en",
        )
        contact = session.scalar(select(Officer).where(Officer.role == "sector_contact"))
        assert contact.sector.name == "Kimisagara" and contact.on_duty is False
    again = runner.invoke(args=["officers", "import", _write(tmp_path, "o.csv", csv)])
    assert "officers: 0 added, 0 updated, 3 unchanged" in again.output


def test_a_bad_officer_row_is_named_by_line_and_nothing_is_imported(runner, rt, tmp_path):
    csv = OFFICERS_HEADER + (
        "Good One,+250788000111,social_worker,Nyarugenge,,yes,en\n"
        "Bad Phone,12345,social_worker,Nyarugenge,,yes,en\n"
        "Bad Role,+250788000112,boss,Nyarugenge,,yes,en\n"
        "Bad District,+250788000113,psychologist,Atlantis,,yes,en\n"
        "No Sector,+250788000114,sector_contact,Gasabo,,yes,en\n"
    )
    result = runner.invoke(args=["officers", "import", _write(tmp_path, "o.csv", csv)])
    assert result.exit_code != 0
    assert "line 3: '12345' is not a valid phone number" in result.output
    assert "line 4: role must be one of" in result.output
    assert "line 5: no district named 'Atlantis'" in result.output
    assert "line 6: a sector_contact needs a sector" in result.output
    assert "nothing imported: 4 bad line(s)" in result.output
    with rt.db.reading() as session:
        assert session.scalar(select(func.count(Officer.id))) == 0


def test_volunteers_import_names_a_village_by_its_path(runner, rt, tmp_path):
    csv = VOLUNTEERS_HEADER + (
        "Marie,0788123456,Nyarugenge,Kimisagara,Katabaro,ubumwe,rw\n"
        "Claude,0788123457,Nyarugenge,Gitega,Akabahizi,Ubumwe,fr\n"
    )
    result = runner.invoke(args=["volunteers", "import", _write(tmp_path, "v.csv", csv)])
    assert result.exit_code == 0, result.output
    with rt.db.reading() as session:
        villages = {v.phone: (v.village.name, v.village.parent.name) for v in session.scalars(select(Volunteer))}
    assert villages == {"+250788123456": ("Ubumwe", "Katabaro"), "+250788123457": ("Ubumwe", "Akabahizi")}


def test_a_bad_volunteer_file_imports_nothing(runner, rt, tmp_path):
    csv = (
        VOLUNTEERS_HEADER
        + "Marie,0788123456,Nyarugenge,Kimisagara,Katabaro,Ubumwe,rw\n"
        + "X,0788123457,Nyarugenge,Kimisagara,Katabaro,Nowhere,rw\n"
    )
    result = runner.invoke(args=["volunteers", "import", _write(tmp_path, "v.csv", csv)])
    assert result.exit_code != 0
    assert "line 3: no village 'Nyarugenge/Kimisagara/Katabaro/Nowhere'" in result.output
    wrong_header = runner.invoke(args=["volunteers", "import", _write(tmp_path, "h.csv", "name,phone\nA,0788123456\n")])
    assert "line 1: the header must be name,phone,district,sector,cell,village,language" in wrong_header.output
    with rt.db.reading() as session:
        assert session.scalar(select(func.count(Volunteer.id))) == 0


def test_menus_validate_passes_the_shipped_trees_and_fails_a_bad_one(runner, tmp_path):
    ok = runner.invoke(args=["menus", "validate"])
    assert ok.exit_code == 0 and "default.yaml: ok" in ok.output
    bad_source = default_tree().source.replace('fr: "Garcon"', 'fr: "Garçon"')
    bad = runner.invoke(args=["menus", "validate", _write(tmp_path, "bad.yaml", bad_source)])
    assert bad.exit_code == 1
    assert "outside the GSM 7-bit alphabet" in bad.output and "bad.yaml: INVALID" in bad.output


def test_a_session_keeps_its_tree_version_when_a_new_one_is_published(client, runner, rt, tmp_path):
    dial = Dial(client)
    dial.send("3", "2")  # English
    assert dial.send("1").startswith("CON What is happening?")
    new_source = default_tree().source.replace("What is happening?", "What happened?")
    published = runner.invoke(args=["menus", "publish", _write(tmp_path, "new.yaml", new_source)])
    assert published.exit_code == 0, published.output
    rt.menus.refresh()  # other processes notice within ACTIVE_CHECK_EVERY seconds
    assert dial.send("0").startswith("CON Ijwi")
    assert dial.send("1").startswith("CON What is happening?")  # still the old version
    fresh = Dial(client)
    fresh.send("3", "2")
    assert fresh.send("1").startswith("CON What happened?")
    with rt.db.reading() as session:
        assert session.scalar(select(func.count(MenuVersion.id))) == 1


def test_publishing_an_invalid_tree_is_refused(runner, rt, tmp_path):
    bad_source = default_tree().source.replace("next: danger", "next: nowhere", 1)
    result = runner.invoke(args=["menus", "publish", _write(tmp_path, "bad.yaml", bad_source)])
    assert result.exit_code != 0 and "not published" in result.output and "missing node 'nowhere'" in result.output


def test_demo_seed_then_a_volunteer_dials(runner, client):
    result = runner.invoke(args=["demo", "seed"])
    assert result.exit_code == 0, result.output
    dial = Dial(client, "+250788123456")
    assert "2. Record a home visit" in dial.screen


def test_ussd_simulate_walks_a_session_in_the_terminal(runner):
    result = runner.invoke(args=["ussd", "simulate", "--phone", "+250788765432"], input="3\n2\n1\n\n")
    assert result.exit_code == 0, result.output
    assert "Ijwi - Kurinda umwana" in result.output
    assert "What is happening?" in result.output
    assert "(hung up)" in result.output


def test_an_earlier_menu_version_can_be_restored(client, runner, rt, tmp_path):
    original = default_tree().source
    changed = original.replace("What is happening?", "What happened?")
    assert runner.invoke(args=["menus", "publish", _write(tmp_path, "a.yaml", original)]).exit_code == 0
    assert runner.invoke(args=["menus", "publish", _write(tmp_path, "b.yaml", changed)]).exit_code == 0
    listing = runner.invoke(args=["menus", "versions"]).output.splitlines()
    assert len(listing) == 2 and listing[0].startswith("*") and listing[1].startswith(" ")
    old_version = listing[1].split()[0]
    restored = runner.invoke(args=["menus", "restore", old_version])
    assert restored.exit_code == 0 and f"version {old_version}" in restored.output
    dial = Dial(client)
    dial.send("3", "2")
    assert dial.send("1").startswith("CON What is happening?")
    assert runner.invoke(args=["menus", "restore", "ffffffff"]).exit_code != 0
