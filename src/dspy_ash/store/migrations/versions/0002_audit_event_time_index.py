"""audit_event: an index for paging a tenant's whole trail by (created_at, id)

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 14:10:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # list_events pages newest (or oldest) first by keyset on (created_at, id); per-resource pages use
    # ix_audit_event_resource, the tenant's whole trail this one. Adding an index rewrites no rows, so the
    # append-only triggers are not involved.
    op.create_index("ix_audit_event_time", "audit_event", ["tenant_id", "created_at", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_audit_event_time", table_name="audit_event")
