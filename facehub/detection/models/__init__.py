"""Detection networks (one module per family)."""
