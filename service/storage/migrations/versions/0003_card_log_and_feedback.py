"""The card log (every card issued) and the feedback clients report on those cards.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "issued_cards",
        sa.Column("card_uuid", sa.String(36), primary_key=True),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("week", sa.Date, nullable=False),
        sa.Column("issuer", sa.Text, nullable=True),
        sa.Column("patient_key", sa.String(64), nullable=False),
        sa.Column("service_id", sa.String(64), nullable=False),
        sa.Column("hook", sa.String(32), nullable=False),
        sa.Column("hook_instance", sa.String(36), nullable=False),
        sa.Column("topic", sa.String(64), nullable=False),
        sa.Column("indicator", sa.String(8), nullable=False),
        sa.Column("suggestions", sa.JSON, nullable=False),
        sa.Column("snoozable", sa.Boolean, nullable=False),
    )
    op.create_index("ix_issued_cards_week", "issued_cards", ["week"])
    op.create_index("ix_issued_cards_patient_key", "issued_cards", ["patient_key"])
    op.create_table(
        "feedback",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer, "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("dedupe_key", sa.String(64), nullable=False, unique=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("issuer", sa.Text, nullable=True),
        sa.Column("service_id", sa.String(64), nullable=False),
        sa.Column("card_uuid", sa.String(36), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("outcome_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("accepted_suggestions", sa.JSON, nullable=False),
        sa.Column("reason_system", sa.String(256), nullable=True),
        sa.Column("reason_code", sa.String(64), nullable=True),
        sa.Column("has_comment", sa.Boolean, nullable=False),
    )
    op.create_index("ix_feedback_received_at", "feedback", ["received_at"])
    op.create_index("ix_feedback_card_uuid", "feedback", ["card_uuid"])


def downgrade() -> None:
    op.drop_index("ix_feedback_card_uuid", table_name="feedback")
    op.drop_index("ix_feedback_received_at", table_name="feedback")
    op.drop_table("feedback")
    op.drop_index("ix_issued_cards_patient_key", table_name="issued_cards")
    op.drop_index("ix_issued_cards_week", table_name="issued_cards")
    op.drop_table("issued_cards")
