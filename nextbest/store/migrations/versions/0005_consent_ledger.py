"""The consent ledger: expiry, source and policy version on purpose records, and contact
permissions per channel in a table of their own. Both are append-only.

Revision ID: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("consents") as batch:
        batch.add_column(sa.Column("expires_ts", sa.Float))
        batch.add_column(sa.Column("source", sa.Text))
        batch.add_column(sa.Column("policy_version", sa.Integer))
    op.create_table(
        "permissions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("customer_id", sa.Text, nullable=False),
        sa.Column("channel", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("ts", sa.Float, nullable=False),
        sa.Column("expires_ts", sa.Float),
        sa.Column("source", sa.Text),
    )
    op.create_index("permissions_customer", "permissions", ["customer_id", "id"])


def downgrade() -> None:
    op.drop_index("permissions_customer", "permissions")
    op.drop_table("permissions")
    with op.batch_alter_table("consents") as batch:
        batch.drop_column("policy_version")
        batch.drop_column("source")
        batch.drop_column("expires_ts")
