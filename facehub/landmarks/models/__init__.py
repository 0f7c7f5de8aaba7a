"""Landmark networks: PIPNet and stacked Hourglass."""
