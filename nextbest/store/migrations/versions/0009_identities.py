"""Identifiers: each (namespace, value) points at one profile; claims on an identifier
that already belongs to another known customer are kept apart (shared identifiers).

Revision ID: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "identities",
        sa.Column("namespace", sa.Text, primary_key=True),
        sa.Column("value", sa.Text, primary_key=True),
        sa.Column("customer_id", sa.Text, nullable=False),
        sa.Column("ts", sa.Float, nullable=False),
    )
    op.create_index("identities_customer", "identities", ["customer_id"])
    op.create_table(
        "identity_claims",
        sa.Column("namespace", sa.Text, primary_key=True),
        sa.Column("value", sa.Text, primary_key=True),
        sa.Column("customer_id", sa.Text, primary_key=True),
        sa.Column("ts", sa.Float, nullable=False),
    )
    op.create_index("identity_claims_customer", "identity_claims", ["customer_id"])


def downgrade() -> None:
    op.drop_index("identity_claims_customer", "identity_claims")
    op.drop_table("identity_claims")
    op.drop_index("identities_customer", "identities")
    op.drop_table("identities")
