"""Portrait-editor training: dataset, discriminators, losses and the recipe."""
