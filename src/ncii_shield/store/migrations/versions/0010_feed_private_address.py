"""Feed subscriptions: the operator's override for a publisher on a private network.

Subscriptions now go through the address guard scans and monitors use (public addresses only);
``allow_private_address`` records, per subscription, that the operator allowed a private one
(``ncii-shield feed subscribe --allow-private-address``). Existing subscriptions get false: one that
points at a private address stops pulling, with the reason in ``last_error``, until the operator
allows it (``ncii-shield feed allow-private-address NAME``). (Tokens are sealed at their next write, without a schema change.)

Revision ID: 0010_feed_private_address
Revises: 0009_audit_tenant
"""
import sqlalchemy as sa
from alembic import op

revision = "0010_feed_private_address"
down_revision = "0009_audit_tenant"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("subscriptions") as batch:
        batch.add_column(sa.Column("allow_private_address", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("subscriptions") as batch:
        batch.drop_column("allow_private_address")
