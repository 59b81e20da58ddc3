"""brandmon dashboard."""
