"""標準帳票 rendering service: declarative layouts + JSON data → PDF that obeys the standard by construction.

`__version__` is the one place the version is written: the build reads it (pyproject.toml, hatchling's
``[tool.hatch.version]``), ``chohyo --version`` prints it and every issue-log record of a render cites it
(``renderer_version``). What each version changed: ``renderer/CHANGELOG.md``.
"""

__version__ = "0.2.0"
