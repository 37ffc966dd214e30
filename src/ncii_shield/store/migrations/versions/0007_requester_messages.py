"""E-mails owed to the people who sent removal requests (an outbox).

Revision ID: 0007_requester_messages
Revises: 0006_statement_submissions
"""
import sqlalchemy as sa
from alembic import op

revision = "0007_requester_messages"
down_revision = "0006_statement_submissions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "requester_messages",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("notice_id", sa.Integer(), sa.ForeignKey("notices.id"), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.UniqueConstraint("notice_id", "kind", name="uq_requester_messages"),
    )


def downgrade() -> None:
    op.drop_table("requester_messages")
