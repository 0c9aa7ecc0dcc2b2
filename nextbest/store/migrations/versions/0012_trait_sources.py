"""Trait sources: per profile, who wrote each trait and when it was true (trait
precedence, per-field retention).

Revision ID: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("profiles") as batch:
        batch.add_column(sa.Column("trait_sources", sa.Text, nullable=False, server_default="{}"))


def downgrade() -> None:
    with op.batch_alter_table("profiles") as batch:
        batch.drop_column("trait_sources")
