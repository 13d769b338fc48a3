"""Cases by SMS: a close outcome, possible duplicates, reminders, and places a community SMS may not name

Revision ID: 0005
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("referrals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("outcome", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("duplicate_of_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("duplicate_confirmed", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("reminder_step", sa.Integer(), nullable=False, server_default="0"))
        batch_op.create_index(batch_op.f("ix_referrals_duplicate_of_id"), ["duplicate_of_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_referrals_duplicate_of_id_referrals"), "referrals", ["duplicate_of_id"], ["id"]
        )
        batch_op.alter_column("location_id", existing_type=sa.Integer(), nullable=True)
        batch_op.alter_column("district_id", existing_type=sa.Integer(), nullable=True)
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.alter_column("location_id", existing_type=sa.Integer(), nullable=True)


def downgrade() -> None:
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.alter_column("location_id", existing_type=sa.Integer(), nullable=False)
    with op.batch_alter_table("referrals", schema=None) as batch_op:
        batch_op.alter_column("district_id", existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column("location_id", existing_type=sa.Integer(), nullable=False)
        batch_op.drop_constraint(batch_op.f("fk_referrals_duplicate_of_id_referrals"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_referrals_duplicate_of_id"))
        batch_op.drop_column("reminder_step")
        batch_op.drop_column("duplicate_confirmed")
        batch_op.drop_column("duplicate_of_id")
        batch_op.drop_column("outcome")
