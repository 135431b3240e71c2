"""Helpers shared by the tests: a test module imports from here, never from another test module."""
