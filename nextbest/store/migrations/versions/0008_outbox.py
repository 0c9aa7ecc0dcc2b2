"""The outbox: messages event triggers chose, waiting for a delivery adapter.

Revision ID: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("outbox_id", sa.Text, primary_key=True),
        sa.Column("customer_id", sa.Text, nullable=False),
        sa.Column("trigger_id", sa.Text, nullable=False),
        sa.Column("event_id", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("channel", sa.Text),
        sa.Column("due_ts", sa.Float, nullable=False),
        sa.Column("created_ts", sa.Float, nullable=False),
        sa.Column("decision_id", sa.Text),
        sa.Column("action_id", sa.Text),
        sa.Column("content", sa.Text),
    )
    op.create_index("outbox_trigger", "outbox", ["customer_id", "trigger_id", "created_ts"])
    op.create_index("outbox_status", "outbox", ["status", "due_ts"])


def downgrade() -> None:
    op.drop_index("outbox_status", "outbox")
    op.drop_index("outbox_trigger", "outbox")
    op.drop_table("outbox")
