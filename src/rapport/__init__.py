"""Rapport — the relationship layer between a retailer's systems and the people who serve its clients."""

__version__ = "0.1.0"
