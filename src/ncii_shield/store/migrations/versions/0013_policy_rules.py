"""Per-tenant review-priority rules (issue 19, item 4; services/policy_rules.py).

* ``policy_rules``: a tenant's ordered rule table, one row per rule: ``conditions`` (the terms that
  must all hold, JSON), ``action`` (review | observe), ``priority`` (1-99 for review, NULL for observe)
  and the reason a reviewer reads. No rows: the defaults (services/uploads/policy.py). A rule never
  removes anything and never touches mandatory reports; the service validates every row.

Revision ID: 0013_policy_rules
Revises: 0012_likeness
"""
import sqlalchemy as sa
from alembic import op

revision = "0013_policy_rules"
down_revision = "0012_likeness"
branch_labels = None
depends_on = None

_TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "policy_rules",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("tenant_id", sa.Integer(), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("conditions", sa.JSON(), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("created_at", _TZ, nullable=False),
        sa.UniqueConstraint("tenant_id", "position", name="uq_policy_rules_position"),
    )


def downgrade() -> None:
    op.drop_table("policy_rules")
