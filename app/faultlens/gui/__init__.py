"""Qt views of the core objects."""
