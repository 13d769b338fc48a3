"""The dashboards' daily roll-up (daily_figures), and the indexes that find what changed since

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import gateway.db

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# Seconds, one per case, kept exactly (gateway.models.SECONDS).
SECONDS = gateway.db.Floats().with_variant(postgresql.ARRAY(postgresql.DOUBLE_PRECISION), "postgresql")


def upgrade() -> None:
    op.create_table(
        "daily_figures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("district_id", sa.Integer(), nullable=True),
        *(
            sa.Column(name, sa.Integer(), nullable=False)
            for name in ("referrals", "urgent", "escalated", "desk", "flagged")
        ),
        sa.Column("categories", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        *(
            sa.Column(name, SECONDS, nullable=False)
            for name in ("acknowledge_urgent", "acknowledge_other", "close_urgent", "close_other")
        ),
        *(
            sa.Column(f"sms_{name}", sa.Integer(), nullable=False)
            for name in ("written", "delivered", "sent", "failed", "waiting", "cancelled", "retried")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_daily_figures")),
    )
    op.create_index("ix_daily_figures_day_district", "daily_figures", ["day", "district_id"])
    op.create_table(
        "daily_figures_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("counted_at", gateway.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_daily_figures_days")),
    )
    op.create_table(
        "daily_figures_check",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("checked_through", gateway.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_daily_figures_check")),
    )
    op.create_index("ix_referrals_updated_at", "referrals", ["updated_at"], postgresql_include=["created_at"])
    op.create_index("ix_messages_updated_at", "messages", ["updated_at"], postgresql_include=["created_at"])


def downgrade() -> None:
    op.drop_index("ix_messages_updated_at", table_name="messages")
    op.drop_index("ix_referrals_updated_at", table_name="referrals")
    op.drop_table("daily_figures_check")
    op.drop_table("daily_figures_days")
    op.drop_index("ix_daily_figures_day_district", table_name="daily_figures")
    op.drop_table("daily_figures")
