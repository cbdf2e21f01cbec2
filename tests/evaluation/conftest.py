"""The scorer's tests: the ``evaluation`` package alone, no Django, no database, no broker.

This conftest, like tests/conftest.py above it, imports no Django, and so do the tests here and the
helpers they use (tests/support: ``data``, ``judge_server``, ``pycocoevalcap_reference``, ``venvs``).
They run on their own without Django configured:

    pytest tests/evaluation -p no:django

In the whole suite pytest-django sets Django up in the test process before any test runs, so "the
scorer imports no Django" is checked in a fresh process instead (test_cli.py, and test_install_scorer.py
from virtualenvs that have no Django at all).
"""
