"""The Alembic migrations in bot/store/migrations, as a script directory (no database)."""

from __future__ import annotations

from alembic.script import ScriptDirectory

from bot.store.migrate import MIGRATIONS, alembic_config


def test_the_migrations_have_a_single_head() -> None:
    """Two branches written at the same time both revise the same parent: ``upgrade head``
    then fails ("Multiple head revisions") until someone adds a merge revision."""
    scripts = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert scripts.dir == str(MIGRATIONS)
    heads = scripts.get_heads()
    assert len(heads) == 1, f"several heads: {heads}; add a merge revision (alembic merge heads)"
    # Every revision reaches the base from the head: none is orphaned by a wrong down_revision.
    chain = [script.revision for script in scripts.walk_revisions("base", heads[0])]
    assert sorted(chain) == sorted(script.revision for script in scripts.walk_revisions())
    assert scripts.get_base() == chain[-1]
