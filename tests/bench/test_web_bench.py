"""The bench's web part, tiny: a few hundred referrals made by PostgreSQL, every measure run
once and its table written (no timing asserted: CI's machine is not the bench's)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from bench import web
from bench.report import Report
from gateway.config import Settings
from gateway.models import Message, Referral
from gateway.runtime import Runtime


def test_the_web_part_makes_its_rows_and_times_every_measure(settings: Settings, rt: Runtime, tmp_path: Path) -> None:
    if not settings.database_url.startswith("postgresql"):
        pytest.skip("the web part makes its rows with PostgreSQL's generate_series")
    report = Report()
    said: list[str] = []
    web.run(report, said.append, referrals=300, url=settings.database_url, workdir=tmp_path)
    with rt.db.reading() as session:
        assert session.scalar(select(func.count(Referral.id))) == 300
        assert session.scalar(select(func.count(Message.id))) == 600
        statuses = dict(session.execute(select(Referral.status, func.count()).group_by(Referral.status)).all())
    assert statuses == {"routed": 6, "acknowledged": 6, "closed": 288}
    [table] = report.parts
    for measure in ("dashboard, every district, 12 weeks", "case list, first page, newest", "page /admin/dashboards"):
        assert measure in table
    assert "300 referrals, 600 SMS" in table
    # A second run finds the rows and does not make them again.
    web.run(report, said.append, referrals=300, url=settings.database_url, workdir=tmp_path)
    assert "[web] 300 referrals and 600 SMS already there" in said
