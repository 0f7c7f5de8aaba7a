"""Reconstruction networks: PRNet."""
