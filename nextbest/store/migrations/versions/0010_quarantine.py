"""Quarantine: records an import or API could not accept, with the reason, kept rather
than dropped.

Revision ID: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "quarantine",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("ts", sa.Float, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("position", sa.Text),
        sa.Column("field", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("record", sa.Text, nullable=False),
    )
    op.create_index("quarantine_source", "quarantine", ["source", "id"])


def downgrade() -> None:
    op.drop_index("quarantine_source", "quarantine")
    op.drop_table("quarantine")
