"""The floor app as a WSGI target for any server line ("bench.floor_wsgi:app"), from REDIS_URL."""

from bench.floor import create_app

app = create_app()
