"""PRNet training: the UV-map dataset and the recipe."""
