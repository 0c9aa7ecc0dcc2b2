"""How far the models have learned the interaction log (one row).

Outcomes are learned from the log in its order, by one learner at a time; the mark moves
with the model states, in their transaction. Existing databases learned every outcome
inline, so the mark starts at the end of the log.

Revision ID: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "learning_mark",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("through", sa.Integer, nullable=False),
        sa.CheckConstraint("id = 1", name="one_row"),
    )
    op.execute(
        "INSERT INTO learning_mark (id, through) "
        "SELECT 1, COALESCE((SELECT max(id) FROM interactions), 0)"
    )


def downgrade() -> None:
    op.drop_table("learning_mark")
