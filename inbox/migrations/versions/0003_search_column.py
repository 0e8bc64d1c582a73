"""PostgreSQL search: a stored tsvector column instead of an expression index

Revision ID: 0003
Revises: 0002

The expression index of 0002 finds matching rows, but the search wants the
newest matches first: PostgreSQL then walked messages newest first and
computed each one's text vector again, 0.1-7 s at a million messages. A
stored generated column holds the vector once, written with the row; its
GIN index answers the same queries in milliseconds, and walking newest
first now only reads the stored vector.

Adding a stored column rewrites the messages table (about a minute at a
million messages, with the table locked): plan the upgrade for a quiet
moment. SQLite keeps its FTS5 table; nothing changes there.

Written by hand (Alembic cannot describe a generated tsvector column with
its GIN index); inbox.search.include_name hides both from autogenerate, and
tests/test_migrations.py checks them directly. Keep the document in step
with inbox/search.py.
"""
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# The same document as 0002's index (and inbox.search.PG_DOCUMENT).
PG_DOCUMENT = ("to_tsvector('simple'::regconfig, regexp_replace(coalesce(subject, '') || ' ' || "
               "coalesce(author_name, '') || ' ' || coalesce(author_handle, '') || ' ' || "
               "left(coalesce(text, ''), 100000), '[^[:alnum:]]+', ' ', 'g'))")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX IF EXISTS ix_messages_search")
    op.execute(f"ALTER TABLE messages ADD COLUMN search_document tsvector GENERATED ALWAYS AS ({PG_DOCUMENT}) STORED")
    op.execute("CREATE INDEX ix_messages_search ON messages USING gin (search_document)")
    # Statistics for the new column, so the planner knows a rare word from a
    # common one before autovacuum gets round to it.
    op.execute("ANALYZE messages")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX IF EXISTS ix_messages_search")
    op.execute("ALTER TABLE messages DROP COLUMN IF EXISTS search_document")
    op.execute(f"CREATE INDEX ix_messages_search ON messages USING gin ({PG_DOCUMENT})")
