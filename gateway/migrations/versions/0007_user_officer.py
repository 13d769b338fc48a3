"""A web user linked to the registry officer they are, and the index of the cases sent to an officer

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
    if op.get_bind().dialect.name == "sqlite":
        # SQLite adds a column with its reference in place; the batch mode's copy of users would
        # be refused (api_tokens refer to the users it drops).
        op.execute("ALTER TABLE users ADD COLUMN officer_id INTEGER REFERENCES officers (id)")
    else:
        op.add_column("users", sa.Column("officer_id", sa.Integer(), nullable=True))
        op.create_foreign_key("fk_users_officer_id_officers", "users", "officers", ["officer_id"], ["id"])
    # One user per officer.
    op.create_index("ix_users_officer_id", "users", ["officer_id"], unique=True)
    # The cases sent to one officer, read from the index alone.
    op.create_index("ix_assignments_officer_referral", "assignments", ["officer_id", "referral_id"])


def downgrade() -> None:
    op.drop_index("ix_assignments_officer_referral", table_name="assignments")
    op.drop_index("ix_users_officer_id", table_name="users")
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("users", schema=None) as batch_op:
            batch_op.drop_column("officer_id")
    else:
        op.drop_constraint("fk_users_officer_id_officers", "users", type_="foreignkey")
        op.drop_column("users", "officer_id")
