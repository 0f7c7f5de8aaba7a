"""Evaluators and metrics shared by the scripts and the tests."""
