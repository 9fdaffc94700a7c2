"""Helpers shared by several test suites (not fixtures: those stay in each suite's conftest.py)."""
