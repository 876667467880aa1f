"""audit_event: the request id of the call that made the change

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 14:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # ADD COLUMN, not a table rebuild: the append-only triggers stay as they are on both databases
    op.add_column("audit_event", sa.Column("request_id", sa.String(64), nullable=True))


def downgrade() -> None:
    # plain DROP COLUMN (SQLite 3.35+): a batch rebuild would drop the append-only triggers with the table
    op.execute("ALTER TABLE audit_event DROP COLUMN request_id")
