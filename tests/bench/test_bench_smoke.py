"""The bench's pieces, quickly: its sessions are whole reports, its SMS API answers like Africa's
Talking, its in-process part runs. (wrk, gunicorn and the servers run only in ./ijwi bench.)"""

from __future__ import annotations

import random

import pytest

from bench import webhook_cost
from bench.growth import grown_tree_source
from bench.paths import mixed_paths, report_path, write_data_file
from bench.sms_stub import SmsStub
from bench.stack import procfile_line, web_argv
from gateway.sms.provider import ACCEPTED, AfricasTalkingSms
from gateway.ussd import callers
from menus.tree import parse_tree
from menus.validate import validate
from tests.helpers import COMMUNITY_PHONE, VOLUNTEER_PHONE, Dial, at_sample, reference_in, register_volunteer


def test_generated_paths_walk_the_app_to_an_end_with_a_reference(client, rt):
    register_volunteer(rt)
    home = callers.profile(rt, VOLUNTEER_PHONE).home
    tree = rt.menus.active()
    paths = mixed_paths(tree, rt.places, 6, 0.5, home, tree.languages[0], seed=5)
    assert {p.kind for p in paths} == {"volunteer", "community"}
    for path in paths:
        dial = Dial(client, VOLUNTEER_PHONE if path.kind == "volunteer" else COMMUNITY_PHONE)
        screen = dial.send(*path.inputs)
        assert screen.startswith("END "), (path.inputs, screen)
        reference_in(screen)


def test_a_community_path_pages_with_98_to_a_village_on_a_later_page(rt):
    tree = rt.menus.active()
    rng = random.Random(1)
    paths = [report_path(tree, rt.places, "community", "rw", rng) for _ in range(20)]
    assert any("98" in p.inputs for p in paths)
    assert all(rt.places.get(p.place_id).level == "village" for p in paths)


def test_the_data_file_lists_volunteer_phones_then_paths(rt, tmp_path):
    tree = rt.menus.active()
    path = report_path(tree, rt.places, "community", "rw", random.Random(2))
    target = tmp_path / "sessions.tsv"
    write_data_file(target, [path], ["+250790000001"])
    assert target.read_text().splitlines() == ["V\t+250790000001", "\t".join(["P", "community", *path.inputs])]


def test_the_sms_stub_answers_like_africas_talking_and_notes_the_message():
    stub = SmsStub().start()
    try:
        result = AfricasTalkingSms("ijwi-bench", "key", "IJWI", base_url=stub.url).send("+250788000111", "Ijwi 4830271")
        sample = at_sample("sms_send_success")
        [arrival] = stub.arrivals()
    finally:
        stub.stop()
    assert result.outcome == ACCEPTED and result.status_code == 101 and result.provider_message_id
    assert result.cost == sample["body"]["SMSMessageData"]["Recipients"][0]["cost"]
    assert (arrival.to, arrival.message) == ("+250788000111", "Ijwi 4830271")


def test_the_web_command_is_the_procfiles_with_the_port_and_app_put_in():
    assert "wsgi:app" in procfile_line("web")
    argv = web_argv(8123)
    assert argv[0] == "gunicorn" and "0.0.0.0:8123" in argv and "wsgi:app" in argv
    floor = web_argv(8123, app="bench.floor_wsgi:app", line="granian --port $PORT --workers 3 wsgi:app")
    assert floor == ["granian", "--port", "8123", "--workers", "3", "bench.floor_wsgi:app"]


def test_grown_trees_stay_valid_with_more_nodes():
    shipped = parse_tree(grown_tree_source(1))
    bigger = parse_tree(grown_tree_source(3))
    assert len(bigger.nodes) >= 3 * len(shipped.nodes) - 5
    assert validate(bigger) == []


def test_the_webhook_cost_part_runs_with_tiny_counts(base_settings, tmp_path):
    if not base_settings.database_url.startswith("sqlite"):
        pytest.skip("the in-process part copies a SQLite database")
    rows = webhook_cost.run(base_settings, tmp_path, sessions=1, tree_factors=(1, 2), village_factors=(2,))
    assert [r.variant for r in rows] == ["tree x1, villages x1", "tree x2, villages x1", "tree x1, villages x2"]
    assert rows[2].villages == 2 * rows[0].villages
    assert all(r.hops > 5 and r.mean_us > 0 for r in rows)
