"""The indicator engine."""
