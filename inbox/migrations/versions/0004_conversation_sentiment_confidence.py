"""conversations.sentiment_confidence, and corrected labels in the list

Revision ID: 0004
Revises: 0003

The inbox list marks a conversation's sentiment as a guess when the scorer
gave it below even odds, so the conversation keeps the confidence of its
last customer message beside its label. The backfill also puts a person's
correction of that label in the list: before, a correction was kept on
the message but the list (and its sentiment filter) went on showing the
scorer's label.
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# The last customer message (inbound, not an auto-reply), as inbox.derive orders them.
LAST = ("(SELECT {value} FROM messages m WHERE m.conversation_id = conversations.id "
        "AND m.direction = 'in' AND m.auto IS NULL ORDER BY m.created_at DESC, m.id DESC LIMIT 1)")


def upgrade() -> None:
    op.add_column("conversations", sa.Column("sentiment_confidence", sa.Double(), nullable=True))
    op.execute("UPDATE conversations SET "
               f"sentiment = {LAST.format(value='COALESCE(m.corrected_label, m.sentiment_label)')}, "
               "sentiment_confidence = "
               f"{LAST.format(value='CASE WHEN m.corrected_label IS NULL THEN m.sentiment_confidence END')} "
               "WHERE sentiment IS NOT NULL")


def downgrade() -> None:
    # Plain ALTER TABLE: SQLite drops columns itself since 3.35, and Alembic's
    # batch mode (copy the table, drop the old one) failed here with
    # "database table is locked".
    op.execute("ALTER TABLE conversations DROP COLUMN sentiment_confidence")
