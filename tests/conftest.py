"""Hands pytest the fixtures and hooks of tests/fixtures.py (where tests import helpers from)."""

from fixtures import *  # noqa: F403  (fixtures and pytest hooks are found by name in this module)
from fixtures import _ErrorRecords  # noqa: F401
