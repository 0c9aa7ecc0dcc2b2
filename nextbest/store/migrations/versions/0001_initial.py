"""Initial schema: profiles, consents, decisions, decision actions, interactions, model
state and config versions.

Revision ID: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "profiles",
        sa.Column("customer_id", sa.Text, primary_key=True),
        sa.Column("traits", sa.Text, nullable=False),
        sa.Column("updated_ts", sa.Float, nullable=False),
    )
    op.create_table(
        "consents",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("customer_id", sa.Text, nullable=False),
        sa.Column("purpose", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("ts", sa.Float, nullable=False),
    )
    op.create_index("consents_customer", "consents", ["customer_id", "purpose", "ts"])
    op.create_table(
        "decisions",
        sa.Column("decision_id", sa.Text, primary_key=True),
        sa.Column("ts", sa.Float, nullable=False),
        sa.Column("customer_id", sa.Text),
        sa.Column("interaction_id", sa.Text),
        sa.Column("channel", sa.Text, nullable=False),
        sa.Column("direction", sa.Text, nullable=False),
        sa.Column("config_version", sa.Text, nullable=False),
        sa.Column("document", sa.Text, nullable=False),
    )
    op.create_index("decisions_customer", "decisions", ["customer_id", "ts"])
    op.create_index("decisions_ts", "decisions", ["ts"])
    op.create_table(
        "decision_actions",
        sa.Column("decision_id", sa.Text, sa.ForeignKey("decisions.decision_id"), nullable=False),
        sa.Column("placement", sa.Text, nullable=False),
        sa.Column("rank", sa.Integer, nullable=False),
        sa.Column("action_id", sa.Text, nullable=False),
        sa.Column("treatment_id", sa.Text, nullable=False),
        sa.Column("issue", sa.Text, nullable=False),
        sa.Column("group_name", sa.Text, nullable=False),
        sa.Column("channel", sa.Text, nullable=False),
        sa.Column("propensity", sa.Float, nullable=False),
        sa.Column("model_propensity", sa.Float, nullable=False),
        sa.Column("value", sa.Float, nullable=False),
        sa.Column("lever", sa.Float, nullable=False),
        sa.Column("context_weight", sa.Float, nullable=False),
        sa.Column("priority", sa.Float, nullable=False),
        sa.Column("selection_probability", sa.Float, nullable=False),
        sa.Column("fallback", sa.Boolean, nullable=False),
        sa.PrimaryKeyConstraint("decision_id", "placement", "rank"),
    )
    op.create_table(
        "interactions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("customer_id", sa.Text),
        sa.Column("decision_id", sa.Text, nullable=False),
        sa.Column("action_id", sa.Text, nullable=False),
        sa.Column("issue", sa.Text, nullable=False),
        sa.Column("group_name", sa.Text, nullable=False),
        sa.Column("channel", sa.Text, nullable=False),
        sa.Column("outcome", sa.Text, nullable=False),
        sa.Column("ts", sa.Float, nullable=False),
        sa.Column("value", sa.Float),
        sa.Column("idempotency_key", sa.Text, unique=True),
    )
    # covering: a decision reads a customer's recent rows from the index alone
    op.create_index(
        "interactions_customer",
        "interactions",
        ["customer_id", "ts", "action_id", "issue", "group_name", "channel", "outcome"],
    )
    op.create_index("interactions_decision", "interactions", ["decision_id"])
    op.create_table(
        "model_state",
        sa.Column("model_id", sa.Text, primary_key=True),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("updated_ts", sa.Float, nullable=False),
    )
    op.create_table(
        "config_versions",
        sa.Column("version_id", sa.Text, primary_key=True),
        sa.Column("files", sa.Text, nullable=False),
        sa.Column("ts", sa.Float, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "config_versions",
        "model_state",
        "interactions",
        "decision_actions",
        "decisions",
        "consents",
        "profiles",
    ):
        op.drop_table(table)
