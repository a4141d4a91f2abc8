"""Memory of cards shown at order-select, for order-sign de-duplication.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "shown_cards",
        sa.Column("fingerprint", sa.String(64), primary_key=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_shown_cards_expires_at", "shown_cards", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_shown_cards_expires_at", table_name="shown_cards")
    op.drop_table("shown_cards")
