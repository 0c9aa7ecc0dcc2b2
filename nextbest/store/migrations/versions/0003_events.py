"""Ingested events (Segment spec), de-duplicated by messageId.

Revision ID: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("message_id", sa.Text, primary_key=True),
        sa.Column("type", sa.Text, nullable=False),
        sa.Column("customer_id", sa.Text),
        sa.Column("anonymous_id", sa.Text),
        sa.Column("name", sa.Text),
        sa.Column("ts", sa.Float, nullable=False),
        sa.Column("received_ts", sa.Float, nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
    )
    op.create_index("events_customer", "events", ["customer_id", "ts"])


def downgrade() -> None:
    op.drop_index("events_customer", "events")
    op.drop_table("events")
