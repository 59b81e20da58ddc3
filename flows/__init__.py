"""brandmon flows."""
