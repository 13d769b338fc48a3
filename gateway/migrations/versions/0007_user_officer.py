"""A web user linked to the registry officer they are

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("officer_id", sa.Integer(), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_users_officer_id"), ["officer_id"])
        batch_op.create_foreign_key(batch_op.f("fk_users_officer_id_officers"), "officers", ["officer_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_users_officer_id_officers"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("uq_users_officer_id"), type_="unique")
        batch_op.drop_column("officer_id")
