"""Data-subject rights: regulations (suppress, delete, unsuppress) and their status, and
the suppression list — keyed by a SHA-256 digest of the customer id, so an erased
subject's id is not kept in the clear.

Revision ID: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "regulations",
        sa.Column("regulation_id", sa.Text, primary_key=True),
        sa.Column("type", sa.Text, nullable=False),
        sa.Column("subjects", sa.Integer, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("created_ts", sa.Float, nullable=False),
        sa.Column("updated_ts", sa.Float, nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
    )
    op.create_table(
        "suppressions",
        sa.Column("digest", sa.Text, primary_key=True),
        sa.Column("regulation_id", sa.Text, nullable=False),
        sa.Column("ts", sa.Float, nullable=False),
        sa.Column("dropped", sa.Integer, nullable=False, server_default="0"),
    )
    # events dropped for subjects since unsuppressed (their rows are gone): one row
    op.create_table(
        "suppressions_dropped",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("n", sa.Integer, nullable=False),
    )
    op.execute("INSERT INTO suppressions_dropped (id, n) VALUES (1, 0)")


def downgrade() -> None:
    op.drop_table("suppressions_dropped")
    op.drop_table("suppressions")
    op.drop_table("regulations")
