"""./ijwi run: the gateway on a machine with nothing installed.

Fills in development defaults (SQLite, an embedded Redis, keys kept in instance/),
migrates, loads the places, then runs the Procfile's web and worker together.
With DATABASE_URL / REDIS_URL set it uses those servers instead.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path

from cryptography.fernet import Fernet

INSTANCE = Path("instance")
KEYS_FILE = INSTANCE / "dev-keys.json"


def development_environment() -> None:
    """Set what is unset: keys (made once, kept in instance/), SQLite, embedded Redis."""
    INSTANCE.mkdir(exist_ok=True)
    if not KEYS_FILE.exists():
        KEYS_FILE.write_text(
            json.dumps({"SECRET_KEY": os.urandom(24).hex(), "ENCRYPTION_KEY": Fernet.generate_key().decode()})
        )
        KEYS_FILE.chmod(0o600)
    for name, value in json.loads(KEYS_FILE.read_text()).items():
        os.environ.setdefault(name, value)
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{(INSTANCE / 'ijwi.db').resolve()}")
    if not os.environ.get("REDIS_URL") and not os.environ.get("REDIS_SENTINELS"):
        from gateway.redis_conn import embedded_url

        os.environ["REDIS_URL"] = embedded_url(str((INSTANCE / "redis.db").resolve()))


def prepare() -> None:
    """Migrate the database and load the places if there are none."""
    from sqlalchemy import func, select

    from gateway import migrate
    from gateway.models import Location
    from gateway.registry import imports
    from gateway.runtime import current

    rt = current()
    migrate.upgrade(rt.settings.database_url)
    with rt.db.sessions() as session:
        if not session.scalar(select(func.count(Location.id))):
            print("loading Rwanda's villages (once)...", flush=True)
            imports.import_locations(rt)


def main(argv: list[str]) -> int:
    development_environment()
    if argv[:1] == ["--flask"]:
        from flask.cli import main as flask_main

        sys.argv = ["flask", "--app", "wsgi", *argv[1:]]
        prepare()
        flask_main()
        return 0
    prepare()
    os.environ.setdefault("PORT", "5000")
    bin_dir = Path(sys.executable).parent
    os.environ["PATH"] = f"{bin_dir}{os.pathsep}{os.environ['PATH']}"
    print(f"Ijwi gateway on http://127.0.0.1:{os.environ['PORT']}  (USSD callback: POST /ussd)", flush=True)
    from honcho.command import main as honcho_main

    honcho_main(honcho_args(argv, os.environ))
    return 0


def honcho_args(argv: list[str], environ: Mapping[str, str]) -> list[str]:
    """`honcho start` of the Procfile's processes (web and worker unless argv names others),
    with WORKERS worker processes (default 1)."""
    workers = environ.get("WORKERS", "1").strip()
    if not workers.isdigit() or int(workers) < 1:
        raise SystemExit(f"WORKERS must be a whole number of at least 1, not {workers!r}")
    return ["start", "-f", "Procfile", "-c", f"worker={int(workers)}", *(argv or ["web", "worker"])]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
