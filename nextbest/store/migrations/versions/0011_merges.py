"""The merge journal: each anonymous profile merged into a known one, with what it takes
to undo it (the profiles' traits before, the rows that moved).

Revision ID: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "merges",
        sa.Column("merge_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("ts", sa.Float, nullable=False),
        sa.Column("from_id", sa.Text, nullable=False),
        sa.Column("into_id", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("unmerged_ts", sa.Float),
        sa.Column("journal", sa.Text, nullable=False),
    )
    op.create_index("merges_from", "merges", ["from_id"])
    op.create_index("merges_into", "merges", ["into_id"])


def downgrade() -> None:
    op.drop_index("merges_into", "merges")
    op.drop_index("merges_from", "merges")
    op.drop_table("merges")
