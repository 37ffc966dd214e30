"""Deadline alerts: a lease on each delivery attempt, so two workers never send the same webhook.

Revision ID: 0008_deadline_alert_lease
Revises: 0007_requester_messages
"""
import sqlalchemy as sa
from alembic import op

revision = "0008_deadline_alert_lease"
down_revision = "0007_requester_messages"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deadline_alerts") as batch:
        batch.add_column(sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("deadline_alerts") as batch:
        batch.drop_column("claimed_until")
