"""Rewrite migration 0001 from the models (development only).

Until the first release there is one migration, 0001, kept equal to the
models by this script (and checked by tests/test_migrations.py). After a
release, never edit 0001: add a new revision with
`alembic revision --autogenerate` instead.

    python -m inbox.migrations.regenerate_initial
"""
from __future__ import annotations

import glob
import os
import shutil
import tempfile

from alembic import command

from inbox.db import alembic_config, make_engine


def main() -> None:
    here = os.path.dirname(__file__)
    for f in glob.glob(os.path.join(here, "versions", "0001_*.py")):
        os.remove(f)
    with tempfile.TemporaryDirectory() as tmp:
        # Hand-written later revisions (0002_search) build on 0001: set them
        # aside so 0001 is generated as the first revision, then put them back.
        later = [f for f in glob.glob(os.path.join(here, "versions", "*.py"))]
        for f in later:
            shutil.move(f, tmp)
        try:
            engine = make_engine(f"sqlite:///{tmp}/empty.db")
            command.revision(alembic_config(engine), message="initial schema", autogenerate=True, rev_id="0001")
            engine.dispose()
        finally:
            for f in later:
                shutil.move(os.path.join(tmp, os.path.basename(f)), f)


if __name__ == "__main__":
    main()
