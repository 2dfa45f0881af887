"""Data sources: synthetic aerial clips, dataset layouts and bags."""
