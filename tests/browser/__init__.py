"""Browser tests. A package, so that its conftest.py is imported as `browser.conftest`.

Without this file it would be imported as a second top-level `conftest` module and
replace `tests/conftest.py` in `sys.modules`, breaking `from conftest import ...`
in the other test modules.
"""
