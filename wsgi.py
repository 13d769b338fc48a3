import sys

from gateway.app import create_app
from gateway.config import ConfigError

try:
    app = create_app()
except ConfigError as exc:
    # One plain line for the operator, not a traceback.
    sys.exit(f"ijwi: cannot start: {exc}")
