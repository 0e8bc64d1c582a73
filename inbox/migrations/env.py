"""Alembic environment: the engine comes from `inbox.db.upgrade` (no alembic.ini)."""
from alembic import context

from inbox.models import Base
from inbox.search import include_name

config = context.config
engine = config.attributes.get("engine")
if engine is None:  # `alembic` run by hand: REPLYDESK_DATABASE_URL
    import os

    from inbox.db import make_engine

    engine = make_engine(os.environ.get("REPLYDESK_DATABASE_URL", "sqlite:///replydesk.db"))

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=engine.dialect.name == "sqlite",  # SQLite cannot ALTER most things
        compare_type=True,
        include_name=include_name,  # hand-written search objects (0002) are not in the models
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
