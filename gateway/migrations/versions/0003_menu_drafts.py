"""Menu drafts and the history of publications

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

import gateway.db

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "menu_drafts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("base_version", sa.String(length=40), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", gateway.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.Column("updated_at", gateway.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_menu_drafts")),
    )
    op.create_table(
        "menu_publications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("by", sa.String(length=200), nullable=False),
        sa.Column("at", gateway.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("restored_from", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["version_id"], ["menu_versions.id"], name=op.f("fk_menu_publications_version_id_menu_versions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_menu_publications")),
    )
    op.create_index(op.f("ix_menu_publications_version_id"), "menu_publications", ["version_id"], unique=False)
    # Versions published before the history existed: their first publication.
    connection = op.get_bind()
    versions = sa.table(
        "menu_versions",
        sa.column("id", sa.Integer()),
        sa.column("published_at", gateway.db.UTCDateTime(timezone=True)),
        sa.column("published_by", sa.String()),
    )
    publications = sa.table(
        "menu_publications",
        sa.column("version_id", sa.Integer()),
        sa.column("kind", sa.String()),
        sa.column("by", sa.String()),
        sa.column("at", gateway.db.UTCDateTime(timezone=True)),
    )
    for version_id, at, by in connection.execute(
        sa.select(versions.c.id, versions.c.published_at, versions.c.published_by)
    ).all():
        connection.execute(publications.insert().values(version_id=version_id, kind="publish", by=by, at=at))


def downgrade() -> None:
    op.drop_index(op.f("ix_menu_publications_version_id"), table_name="menu_publications")
    op.drop_table("menu_publications")
    op.drop_table("menu_drafts")
