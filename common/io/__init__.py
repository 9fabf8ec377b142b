"""File helpers shared by every layer: atomic writes, refusing to overwrite user files."""
