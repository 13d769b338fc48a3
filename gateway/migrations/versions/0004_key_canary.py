"""A stored canary of ENCRYPTION_KEY

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

import gateway.db

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "key_canaries",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("token", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", gateway.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_key_canaries")),
    )


def downgrade() -> None:
    op.drop_table("key_canaries")
