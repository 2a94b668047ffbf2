"""The migration scripts, one per revision, oldest first by name (``r<NNNN>_<what>.py``).

In: nothing (Alembic loads each file by path; tests import revision 0001's frozen schema). Out: modules with
``revision``, ``down_revision``, ``upgrade()`` and ``downgrade()``. A new revision adds a file here and its
id to `renderer.state.migrations.REVISIONS`; ``tests/state/test_migrations.py`` checks both agree and that
head matches the models in `renderer.state.db`.
"""
