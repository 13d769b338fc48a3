"""Encrypted notes on the timeline, and the indexes the dashboards and the case list need

Revision ID: 0007
Revises: 0003, 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
# After both the menu drafts (0003) and the SMS cases (0005): the lead re-chains these at merge.
down_revision = ("0003", "0005")
branch_labels = None
depends_on = None


# Columns of a referral the dashboards count.
COUNTED = ["district_id", "category", "urgent", "status", "escalation_step", "flagged", "acknowledged_at", "closed_at"]


def upgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("note_enc", sa.LargeBinary(), nullable=True))
    # Figures of a period (and of one district's period), and the newest cases first; on
    # PostgreSQL the indexes carry what the figures count (index-only scans).
    op.create_index("ix_referrals_created_at", "referrals", ["created_at"], postgresql_include=COUNTED)
    op.create_index(
        "ix_referrals_district_created", "referrals", ["district_id", "created_at"], postgresql_include=COUNTED[1:]
    )
    # Open cases (few among many closed ones) per district, from the index alone.
    op.create_index(
        "ix_referrals_status_district",
        "referrals",
        ["status", "district_id"],
        postgresql_include=["urgent", "created_at"],
    )
    op.create_index(
        "ix_messages_created_at", "messages", ["created_at"], postgresql_include=["status", "attempts", "referral_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_messages_created_at", table_name="messages")
    op.drop_index("ix_referrals_status_district", table_name="referrals")
    op.drop_index("ix_referrals_district_created", table_name="referrals")
    op.drop_index("ix_referrals_created_at", table_name="referrals")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_column("note_enc")
