"""The migrations make exactly the schema the models describe, and carry old rows forward."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text

from gateway import migrate
from gateway.models import Base


def test_the_migrated_database_matches_the_models(rt):
    with rt.db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_tokens_issued_before_expiry_existed_expire_ninety_days_after_issue(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    migrate.upgrade(url, "0001")
    issued = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO users (id, email, password_hash, role, active, created_at, updated_at) "
                "VALUES (1, 'ada@example.org', 'x', 'admin', 1, :at, :at)"
            ),
            {"at": issued.isoformat()},
        )
        connection.execute(
            text("INSERT INTO api_tokens (token_hash, user_id, created_at, revoked) VALUES ('h', 1, :at, 0)"),
            {"at": issued.isoformat()},
        )
    migrate.upgrade(url)
    with engine.connect() as connection:
        expires = connection.execute(text("SELECT expires_at FROM api_tokens")).scalar_one()
    engine.dispose()
    assert datetime.fromisoformat(str(expires)).replace(tzinfo=UTC) == issued + timedelta(days=90)
