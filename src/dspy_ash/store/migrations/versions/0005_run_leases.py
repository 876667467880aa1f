"""optimizer_run, evaluation_run: the lease of the worker that runs them (owner, lease_until, attempts)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 15:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLES = ("optimizer_run", "evaluation_run")


def upgrade() -> None:
    # ADD COLUMN in place on both databases; the runs keep their rows and constraints
    for table in _TABLES:
        op.add_column(table, sa.Column("owner", sa.String(200), nullable=True))
        op.add_column(table, sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
        op.add_column(table, sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        # a worker looks for expired leases of running runs across tenants
        op.create_index(f"ix_{table}_lease", table, ["status", "lease_until"])


def downgrade() -> None:
    for table in _TABLES:
        op.drop_index(f"ix_{table}_lease", table_name=table)
        for column in ("attempts", "lease_until", "owner"):
            op.drop_column(table, column)
