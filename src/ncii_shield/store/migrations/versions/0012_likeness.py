"""Likeness protection (issue 18): enrolled faces, sealed, and their index's own change log.

* ``likeness_enrolments``: per bank (and case, when a person enrols through theirs) the vectors of
  1-5 photos as one token sealed with the personal-data key; erased at withdrawal.
* ``likeness_changes``: add / withdraw of an enrolment, followed by the enrolled-face index; apart
  from ``changes`` so feeds never see enrolments.

Revision ID: 0012_likeness
Revises: 0011_trust
"""
import sqlalchemy as sa
from alembic import op

revision = "0012_likeness"
down_revision = "0011_trust"
branch_labels = None
depends_on = None

_TZ = sa.DateTime(timezone=True)
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "likeness_enrolments",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("bank_id", sa.Integer(), sa.ForeignKey("banks.id"), nullable=False),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id"), nullable=True),
        sa.Column("model", sa.String(64), nullable=False),
        sa.Column("photos", sa.Integer(), nullable=False),
        sa.Column("vectors_sealed", sa.Text(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", _TZ, nullable=False),
        sa.Column("withdrawn_at", _TZ, nullable=True),
    )
    op.create_index("ix_likeness_enrolments_bank_id", "likeness_enrolments", ["bank_id"])
    op.create_index("ix_likeness_enrolments_case_id", "likeness_enrolments", ["case_id"])
    op.create_table(
        "likeness_changes",
        sa.Column("seq", BigId, primary_key=True, autoincrement=True),
        sa.Column("op", sa.String(16), nullable=False),
        sa.Column("enrolment_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", _TZ, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("likeness_changes")
    op.drop_index("ix_likeness_enrolments_case_id", table_name="likeness_enrolments")
    op.drop_index("ix_likeness_enrolments_bank_id", table_name="likeness_enrolments")
    op.drop_table("likeness_enrolments")
