"""Trust and retroactive protection (issue 23, services/trust.py).

* banks get ``kind`` (block | allow), ``trust`` (trusted | partner | unverified | anonymous) and
  ``policy`` (act | review | observe); subscriptions get ``trust`` and ``policy``. Existing victims'
  banks (anonymous intake: ``victims``, ``victims-under-18``) become ``anonymous``; banks fed by a
  subscription ``unverified``, as a new subscription's are.
* ``signal_disables``: a tenant stops acting on one signal, optionally until a time.
* ``signal_quarantine``: reviewers' rejections and removals per signal, and its quarantine.
* ``signal_feedback``: a tenant's verdict on a signal (confirm | deconfirm | dispute).
* ``feed_verdicts``: what a feed's subscribers reported back per signal (verdict counts, removed).
* ``retro_matches``: past uploads found by a later signal, one row per (tenant, signal, content).
* ``case_messages``: e-mails owed to a case's contact address (withdrawal, coarse outcomes).
* ``trust_cursors``: where the retroactive follower got to in the change log.

Revision ID: 0011_trust
Revises: 0010_feed_private_address
"""
import sqlalchemy as sa
from alembic import op

revision = "0011_trust"
down_revision = "0010_feed_private_address"
branch_labels = None
depends_on = None

_TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("banks") as batch:
        batch.add_column(sa.Column("kind", sa.String(8), nullable=False, server_default="block"))
        batch.add_column(sa.Column("trust", sa.String(16), nullable=False, server_default="trusted"))
        batch.add_column(sa.Column("policy", sa.String(16), nullable=False, server_default="review"))
    with op.batch_alter_table("subscriptions") as batch:
        batch.add_column(sa.Column("trust", sa.String(16), nullable=False, server_default="unverified"))
        batch.add_column(sa.Column("policy", sa.String(16), nullable=False, server_default="review"))
    op.execute("UPDATE banks SET trust = 'anonymous' WHERE name IN ('victims', 'victims-under-18')")
    op.execute("UPDATE banks SET trust = 'unverified' WHERE id IN (SELECT bank_id FROM subscriptions)")
    op.create_table(
        "signal_disables",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("tenant_id", sa.Integer(), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("signal_id", sa.BigInteger(), nullable=False),
        sa.Column("until", _TZ, nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("created_at", _TZ, nullable=False),
        sa.UniqueConstraint("tenant_id", "signal_id", name="uq_signal_disables"),
    )
    op.create_table(
        "signal_quarantine",
        sa.Column("signal_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("rejections", sa.Integer(), nullable=False),
        sa.Column("removals", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("quarantined_at", _TZ, nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("released_at", _TZ, nullable=True),
        sa.Column("updated_at", _TZ, nullable=False),
    )
    op.create_table(
        "signal_feedback",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("tenant_id", sa.Integer(), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("signal_id", sa.BigInteger(), nullable=False),
        sa.Column("verdict", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("at", _TZ, nullable=False),
        sa.UniqueConstraint("tenant_id", "signal_id", name="uq_signal_feedback"),
    )
    op.create_index("ix_signal_feedback_signal_id", "signal_feedback", ["signal_id"])
    op.create_table(
        "retro_matches",
        sa.Column("tenant_id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("signal_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("content_id", sa.String(200), primary_key=True),
        sa.Column("review_item_id", sa.Integer(), nullable=True),
        sa.Column("created_at", _TZ, nullable=False),
    )
    op.create_index("ix_retro_matches_signal", "retro_matches", ["signal_id"])
    op.create_table(
        "feed_verdicts",
        sa.Column("subscriber_id", sa.Integer(), sa.ForeignKey("feed_subscribers.id"), primary_key=True),
        sa.Column("signal_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("confirm", sa.Integer(), nullable=False),
        sa.Column("deconfirm", sa.Integer(), nullable=False),
        sa.Column("dispute", sa.Integer(), nullable=False),
        sa.Column("removed_at", _TZ, nullable=True),
        sa.Column("updated_at", _TZ, nullable=False),
    )
    op.create_index("ix_feed_verdicts_signal", "feed_verdicts", ["signal_id"])
    op.create_table(
        "case_messages",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("address_encrypted", sa.Text(), nullable=True),
        sa.Column("created_at", _TZ, nullable=False),
        sa.Column("sent_at", _TZ, nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", _TZ, nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.UniqueConstraint("case_id", "kind", name="uq_case_messages"),
    )
    op.create_table(
        "trust_cursors",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", _TZ, nullable=False),
    )


def downgrade() -> None:
    for table in ("trust_cursors", "case_messages", "feed_verdicts", "retro_matches", "signal_feedback", "signal_quarantine", "signal_disables"):
        op.drop_table(table)
    with op.batch_alter_table("subscriptions") as batch:
        batch.drop_column("policy")
        batch.drop_column("trust")
    with op.batch_alter_table("banks") as batch:
        for column in ("policy", "trust", "kind"):
            batch.drop_column(column)
