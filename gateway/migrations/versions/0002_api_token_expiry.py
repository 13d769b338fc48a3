"""API tokens expire

Revision ID: 0002
Revises: 0001
"""

from datetime import timedelta

import sqlalchemy as sa
from alembic import op

import gateway.db

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# Tokens issued before tokens expired get the default lifetime, from when they were issued.
DAYS = 90


def upgrade() -> None:
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("expires_at", gateway.db.UTCDateTime(timezone=True), nullable=True))
    tokens = sa.table(
        "api_tokens",
        sa.column("id", sa.Integer()),
        sa.column("created_at", gateway.db.UTCDateTime(timezone=True)),
        sa.column("expires_at", gateway.db.UTCDateTime(timezone=True)),
    )
    connection = op.get_bind()
    for token_id, created_at in connection.execute(sa.select(tokens.c.id, tokens.c.created_at)).all():
        connection.execute(
            tokens.update().where(tokens.c.id == token_id).values(expires_at=created_at + timedelta(days=DAYS))
        )
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.alter_column("expires_at", nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_column("expires_at")
