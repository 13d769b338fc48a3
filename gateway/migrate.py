"""Schema migrations with Alembic, applied by the run command and the Procfile's release."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

# Where the migration scripts live.
SCRIPTS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(SCRIPTS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at url up to revision."""
    command.upgrade(alembic_config(url), revision)


def revision(url: str, message: str) -> None:
    """Write a new migration from the difference between the models and the database."""
    command.revision(alembic_config(url), message=message, autogenerate=True)
