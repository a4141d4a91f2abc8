"""Snoozes in a table of their own, keyed by patient: the hook call's lookup no longer reads
the patient's whole card log. Filled from the card log and feedback already stored; the card
log's patient index, which only that lookup used, goes.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "snoozes",
        sa.Column("patient_key", sa.String(64), primary_key=True),
        sa.Column("issuer", sa.Text, primary_key=True),
        sa.Column("topic", sa.String(64), primary_key=True),
        sa.Column("snoozed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.execute(
        """
        INSERT INTO snoozes (patient_key, issuer, topic, snoozed_at)
        SELECT issued_cards.patient_key, issued_cards.issuer, issued_cards.topic,
               max(feedback.received_at)
        FROM issued_cards JOIN feedback ON feedback.card_uuid = issued_cards.card_uuid
        WHERE issued_cards.snoozable AND feedback.outcome = 'overridden'
          AND feedback.issuer = issued_cards.issuer
        GROUP BY issued_cards.patient_key, issued_cards.issuer, issued_cards.topic
        """
    )
    op.drop_index("ix_issued_cards_patient_key", table_name="issued_cards")


def downgrade() -> None:
    op.create_index("ix_issued_cards_patient_key", "issued_cards", ["patient_key"])
    op.drop_table("snoozes")
