"""The migrations create exactly the schema the models describe, on both databases."""
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from inbox.models import Base
from inbox.search import include_name


def test_models_match_migrations(engine):
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True, "include_name": include_name}), Base.metadata)
    assert diff == [], "models and migrations differ; run python -m inbox.migrations.regenerate_initial"
