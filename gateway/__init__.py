"""Ijwi's gateway: Flask app, adapters (SQL, Redis, SMS) and domain services."""
