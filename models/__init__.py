"""brandmon models."""
