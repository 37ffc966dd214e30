"""Cases (victim intake), their signals, and match totals per signal (counts only).

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
        "cases",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("case_number", sa.String(length=32), nullable=False, unique=True),
        sa.Column("pin_hash", sa.String(length=200), nullable=False),
        sa.Column("bank_id", sa.Integer(), sa.ForeignKey("banks.id"), nullable=False),
        sa.Column("queue", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("contact_encrypted", sa.Text(), nullable=True),
        sa.Column("failed_pins", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lockouts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "case_signals",
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id"), primary_key=True),
        sa.Column("signal_id", sa.BigInteger(), primary_key=True),
    )
    op.create_table(
        "match_totals",
        sa.Column("signal_id", sa.BigInteger(), primary_key=True),
        sa.Column("matches", sa.BigInteger(), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("match_totals")
    op.drop_table("case_signals")
    op.drop_table("cases")
