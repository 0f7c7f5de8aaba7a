"""Parsing training: dataset, augmentation, losses and the recipe."""
