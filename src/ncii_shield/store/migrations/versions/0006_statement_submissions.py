"""Statements of reasons submitted to the EU DSA Transparency Database, one row per review item.

Revision ID: 0006_statement_submissions
Revises: 0005_scans
"""
import sqlalchemy as sa
from alembic import op

revision = "0006_statement_submissions"
down_revision = "0005_scans"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "statement_submissions",
        sa.Column("review_item_id", sa.Integer(), sa.ForeignKey("review_items.id"), primary_key=True),
        sa.Column("tenant_id", sa.Integer(), sa.ForeignKey("tenants.id"), nullable=False, index=True),
        sa.Column("puids", sa.JSON(), nullable=False),
        sa.Column("uuids", sa.JSON(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("statement_submissions")
