"""API keys: stored as SHA-256 digests, with a role, revocable.

Revision ID: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("key_id", sa.Text, primary_key=True),
        sa.Column("digest", sa.Text, nullable=False, unique=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("created_ts", sa.Float, nullable=False),
        sa.Column("revoked_ts", sa.Float),
    )


def downgrade() -> None:
    op.drop_table("api_keys")
