"""Landmark training: augmentation and the recipe."""
