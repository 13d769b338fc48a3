"""The bench's pieces, quickly: its sessions are whole reports, its SMS API answers like Africa's
Talking, its in-process part runs. (wrk, gunicorn and the servers run only in ./ijwi bench.)"""

from __future__ import annotations

import os
import random
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from sqlalchemy import create_engine, make_url, text

from bench import parts, peer, webhook_cost
from bench import report as report_module
from bench import stack as stack_module
from bench.__main__ import missing
from bench.growth import grown_tree_source
from bench.load import run_wrk
from bench.parts import Profile
from bench.paths import mixed_paths, report_path, write_data_file
from bench.report import Report
from bench.sms_stub import SmsStub
from bench.stack import SetupError, Stack, ensure_database, free_port, procfile_line, web_argv
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
    assert argv[0] == "granian" and "8123" in argv and "wsgi:app" in argv and "$PORT" not in " ".join(argv)
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


# --- the peer, the stack's set-up, and the parts against real servers ---------------------


def _fake_tools(folder: Path, calls: Path) -> str:
    """A PATH whose npm notes its arguments and makes node_modules, and whose node exists."""
    folder.mkdir()
    (folder / "npm").write_text(f'#!/bin/sh\necho "$@" >> {calls}\nmkdir -p node_modules\n')
    (folder / "node").write_text("#!/bin/sh\nexit 0\n")
    for tool in ("npm", "node"):
        (folder / tool).chmod(0o755)
    return f"{folder}:/usr/bin:/bin"


def test_the_peer_is_copied_and_its_packages_installed_once_until_its_source_changes(tmp_path, monkeypatch):
    source = tmp_path / "shared" / "peer"
    source.mkdir(parents=True)
    for name in peer.SOURCE_FILES:
        (source / name).write_text(f"// {name}\n")
    calls = tmp_path / "npm-calls"
    monkeypatch.setenv("PATH", _fake_tools(tmp_path / "bin", calls))
    target = tmp_path / "out" / "peer"
    assert peer.prepare(source, target) == target
    assert (target / "app.js").read_text() == "// app.js\n"
    peer.prepare(source, target)
    assert calls.read_text().split()[:1] == ["ci"] and calls.read_text().count("\n") == 1
    (source / "app.js").write_text("// changed\n")
    peer.prepare(source, target)
    assert (target / "app.js").read_text() == "// changed\n" and calls.read_text().count("\n") == 2


def test_without_node_or_wrk_the_bench_says_what_is_missing_in_one_line_each(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    problems = missing(["peer", "ussd"])
    assert len(problems) == 2 and all("\n" not in p for p in problems)
    assert "apt-get install wrk" in problems[0] and "node and npm" in problems[1]
    with pytest.raises(SetupError, match="node and npm"):
        peer.prepare(tmp_path, tmp_path / "out")


def test_an_unreachable_postgresql_is_named_in_one_line():
    with pytest.raises(SetupError) as caught:
        ensure_database("postgresql+psycopg://postgres@127.0.0.1:1/ijwi_nowhere")
    assert "127.0.0.1:1" in str(caught.value) and "BENCH_DATABASE_URL" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_the_bench_creates_its_postgresql_database_when_missing(base_settings):
    if not base_settings.database_url.startswith("postgresql"):
        pytest.skip("needs a PostgreSQL server")
    name = f"ijwi_bench_smoke_{os.getpid()}"
    url = make_url(base_settings.database_url).set(database=name)
    admin = create_engine(make_url(base_settings.database_url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        ensure_database(url.render_as_string(hide_password=False))
        ensure_database(url.render_as_string(hide_password=False))  # there already: nothing to do
        with admin.connect() as connection:
            assert connection.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}) == 1
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


def test_ports_come_from_bench_ports_and_are_never_handed_out_twice(monkeypatch):
    monkeypatch.setattr(stack_module, "PORTS", "7690-7699")
    monkeypatch.setattr(stack_module, "_handed_out", set())
    ports = [free_port() for _ in range(3)]
    assert len(set(ports)) == 3 and all(7690 <= p <= 7699 for p in ports)


def _ussd_server(last_screen: str) -> tuple[ThreadingHTTPServer, str]:
    """A server answering every hop CON, and the report path's last hop (8 inputs) last_screen."""

    class Hop(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (the standard library's name)
            form = parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
            inputs = form.get("text", [""])[0]
            body = (last_screen if inputs.count("*") == len(peer.REPORT_INPUTS) - 1 else "CON Next").encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hop)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def test_the_load_counts_a_session_ended_without_a_reference_as_a_bad_reply(tmp_path):
    """A refused report (an END with no reference: a limit, a failed save) is not a report made."""
    if missing(["ussd"]):
        pytest.skip("wrk is not installed")
    datafile = tmp_path / "sessions.tsv"
    write_data_file(datafile, [peer.report_path()], [VOLUNTEER_PHONE])
    results = {}
    for name, screen in (("filed", "END Thank you. Reference 4830271."), ("refused", "END Too many reports.")):
        server, url = _ussd_server(screen)
        try:
            results[name] = run_wrk(name, url, "/ussd", datafile, 1, 1, 1, "app")
        finally:
            server.shutdown()
    assert results["filed"].sessions > 0 and results["filed"].errors == 0
    assert results["refused"].sessions == 0 and results["refused"].errors > 0
    assert "Too many reports" in results["refused"].first_bad[0]


def test_the_bench_gateway_files_every_report_its_volunteers_make(tmp_path):
    """Its 400 volunteers file thousands of reports an hour: no report limit may refuse one."""
    stack = Stack(tmp_path, say=lambda s: None)
    stack._keys = {"SECRET_KEY": "s", "ENCRYPTION_KEY": "k"}
    stack.stub = SmsStub().start()
    try:
        settings, env = stack.settings(), stack.env()
    finally:
        stack.stub.stop()
    assert settings.reports_per_hour_volunteer * stack_module.VOLUNTEERS >= 10**6
    assert int(env["REPORTS_PER_HOUR_VOLUNTEER"]) == settings.reports_per_hour_volunteer
    assert int(env["REPORTS_PER_HOUR_UNKNOWN"]) == settings.reports_per_hour_unknown >= 10**6


TINY = Profile("smoke", (2,), 1, 2, 1, (2,), 1, 4, False, 5, 1, (1,), (1,), (2,), 1, 1, False)


def test_the_load_and_worker_parts_run_small_against_a_real_stack(tmp_path, monkeypatch):
    """Each part that needs running servers, tiny: no timing is asserted, only that it runs whole
    with every reply right (wrk, node and the peer's packages are needed, as ./ijwi bench needs)."""
    problems = missing(["peer", "ussd"])
    try:
        peer.source_dir()
    except SetupError as exc:
        problems.append(str(exc))
    if problems:
        pytest.skip("; ".join(problems))
    monkeypatch.setattr(parts, "CONFIRM_SLOW_RATE", 2.0)
    monkeypatch.setattr(parts, "SERVER_LINES", dict(list(parts.SERVER_LINES.items())[-1:]))
    monkeypatch.setattr(report_module, "OUT", tmp_path / "out")
    stack = Stack(tmp_path / "stack", database="sqlite", say=lambda s: None)
    report = Report()
    try:
        stack.start()
        bench = parts.Bench(stack, report, TINY)
        bench.confirm_to_sms()
        bench.worker([stack])
        bench.redis_memory()
        bench.ussd()
        bench.peer([stack])
        bench.servers()
    finally:
        stack.stop()
    text_out = "\n".join(report.parts)
    for title in ("Confirm to SMS", "Worker throughput", "Redis memory", "whole report sessions vs the floor"):
        assert title in text_out
    [peer_row] = [line for line in report.parts[-2].splitlines() if line.startswith("| sqlite | 2 |")]
    cells = peer_row.split(" | ")
    assert cells[10] == "0 / 0 / 0"  # no bad reply from Ijwi, the peer or the floor
    web_us, worker_us, redis_us, database_us = (int(x) for x in cells[11].split(";")[0].split(" / "))
    assert web_us > 0 and redis_us > 0 and database_us == 0  # SQLite's work is in Ijwi's own processes
    assert all(int(x) > 0 for x in cells[12].split(" / "))  # the machine's CPU per hop, Ijwi's and the peer's
    assert "| 0 |" in report.parts[-1]  # the server line's run had no errors


def test_the_route_profile_routes_and_alerts_a_few_referrals_and_counts_their_statements(settings, monkeypatch, capsys):
    from bench import route_profile

    monkeypatch.setenv("ROUTE_PROFILE_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("ROUTE_PROFILE_REDIS_URL", settings.redis_url)
    route_profile.main(["--referrals", "3", "--threads", "2", "--statements"])
    out = capsys.readouterr().out
    assert out.startswith("3 referrals, 6 alerts sent: ")
    assert "INSERT messages" in out and "SELECT officers" in out
