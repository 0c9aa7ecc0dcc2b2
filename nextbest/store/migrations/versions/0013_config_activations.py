"""Configuration activations: which configuration version a reload made live, and when.

Every worker of a server follows the newest activation, so a reload reaches them all.

Revision ID: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "config_activations",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "version_id", sa.Text, sa.ForeignKey("config_versions.version_id"), nullable=False
        ),
        sa.Column("ts", sa.Float, nullable=False),
        sqlite_autoincrement=True,  # numbers never reused: a follower compares them
    )


def downgrade() -> None:
    op.drop_table("config_activations")
