"""Audit log per tenant: each entry names the tenant it belongs to (NULL: the instance operator's only).

A tenant's admin key sees its own entries and, of the others, only the chain's link values
(services/audit.py). Entries written before this migration get the tenant derived from what they
name: a removal request's reference (its tenant), ``review:<id>`` (the review item's tenant), or a
``key:<prefix>`` subject or actor (the key's tenant). An entry none of these names stays NULL and is
shown to the operator only (``ncii-shield audit`` with database access). Their hashes were computed
without a tenant, so the attribution of these older entries is not covered by the chain; every entry
written from now on hashes its tenant too.

The log is append-only (triggers from 0004): the one backfill switches the UPDATE trigger off inside
this migration's transaction and puts it back before it commits.

Revision ID: 0009_audit_tenant
Revises: 0008_deadline_alert_lease
"""
import sqlalchemy as sa
from alembic import op

revision = "0009_audit_tenant"
down_revision = "0008_deadline_alert_lease"
branch_labels = None
depends_on = None

_BATCH = 5000


def upgrade() -> None:
    op.add_column("audit_log", sa.Column("tenant_id", sa.Integer(), nullable=True))
    op.create_index("ix_audit_log_tenant_id", "audit_log", ["tenant_id"])
    _backfill(op.get_bind())


def _backfill(conn: sa.engine.Connection) -> None:
    notices = dict(conn.execute(sa.text("SELECT reference, tenant_id FROM notices")).all())
    items = {f"review:{i}": t for i, t in conn.execute(sa.text("SELECT id, tenant_id FROM review_items")).all()}
    keys = {f"key:{p}": t for p, t in conn.execute(sa.text("SELECT prefix, tenant_id FROM api_keys")).all()}

    def tenant_of(actor: str, subject: str) -> int | None:
        for found in (notices.get(subject), items.get(subject), keys.get(subject), keys.get(actor)):
            if found is not None:
                return found
        return None

    postgres = conn.dialect.name == "postgresql"
    if postgres:
        conn.execute(sa.text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
    else:
        conn.execute(sa.text("DROP TRIGGER audit_log_no_update"))
    last = 0
    while True:
        rows = conn.execute(sa.text("SELECT seq, actor, subject FROM audit_log WHERE seq > :last ORDER BY seq LIMIT :n"),
                            {"last": last, "n": _BATCH}).all()
        if not rows:
            break
        by_tenant: dict[int, list[int]] = {}
        for seq, actor, subject in rows:
            tenant = tenant_of(actor, subject)
            if tenant is not None:
                by_tenant.setdefault(tenant, []).append(int(seq))
        for tenant, seqs in by_tenant.items():
            conn.execute(sa.text("UPDATE audit_log SET tenant_id = :t WHERE seq IN :seqs")
                         .bindparams(sa.bindparam("seqs", expanding=True)), {"t": tenant, "seqs": seqs})
        last = int(rows[-1][0])
    if postgres:
        conn.execute(sa.text("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only"))
    else:
        conn.execute(sa.text("""CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
                                BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"""))


def downgrade() -> None:
    op.drop_index("ix_audit_log_tenant_id", "audit_log")
    if op.get_bind().dialect.name == "postgresql":
        op.drop_column("audit_log", "tenant_id")
    else:  # SQLite (>= 3.35) drops a column in place, so the append-only triggers stay
        op.execute("ALTER TABLE audit_log DROP COLUMN tenant_id")
