"""./ijwi run: the gateway on a machine with nothing installed.

Fills in development defaults (SQLite, an embedded Redis, keys kept in instance/),
migrates, loads the places, then runs the Procfile's web and worker together.
With DATABASE_URL / REDIS_URL set it uses those servers instead.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping, MutableMapping
from pathlib import Path

from cryptography.fernet import Fernet

INSTANCE = Path("instance")
KEYS_FILE = INSTANCE / "dev-keys.json"
# Where the web and worker processes write their metrics (emptied at each start).
METRICS_DIR = INSTANCE / "metrics"


# Said on its own lines so that nobody misses it.
BANNER = "!" * 78


def loudly(*lines: str) -> None:
    print("\n".join([BANNER, *(f"!! {line}" for line in lines), BANNER]), file=sys.stderr, flush=True)


def development_environment() -> list[str]:
    """Set what is unset: keys (made once, kept in instance/), SQLite, embedded Redis, and
    development mode when no WEBHOOK_TOKEN is set; the warnings to show the person running it."""
    warnings: list[str] = []
    INSTANCE.mkdir(mode=0o700, exist_ok=True)
    INSTANCE.chmod(0o700)
    if not KEYS_FILE.exists() and not (os.environ.get("SECRET_KEY") and os.environ.get("ENCRYPTION_KEY")):
        fd = os.open(KEYS_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(
                json.dumps({"SECRET_KEY": os.urandom(24).hex(), "ENCRYPTION_KEY": Fernet.generate_key().decode()})
            )
        warnings.append(
            f"NEW KEYS were made and kept in {KEYS_FILE}: data encrypted with other keys cannot be read. "
            "In production set SECRET_KEY and ENCRYPTION_KEY yourself and keep a copy safe."
        )
    if not os.environ.get("WEBHOOK_TOKEN"):
        os.environ["IJWI_DEV"] = "1"
        warnings.append(
            "DEVELOPMENT MODE (IJWI_DEV=1): WEBHOOK_TOKEN is not set, so anyone who can reach this "
            "server may call its webhooks. Never run it like this where a network can reach it."
        )
    if KEYS_FILE.exists():
        for name, value in json.loads(KEYS_FILE.read_text()).items():
            os.environ.setdefault(name, value)
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{(INSTANCE / 'ijwi.db').resolve()}")
    os.environ.setdefault("LOG_FORMAT", "text")
    # The admin web is reached over plain HTTP on a developer's machine.
    os.environ.setdefault("ADMIN_COOKIE_SECURE", "false")
    if not os.environ.get("REDIS_URL") and not os.environ.get("REDIS_SENTINELS"):
        from gateway.redis_conn import embedded_url

        os.environ["REDIS_URL"] = embedded_url(str((INSTANCE / "redis.db").resolve()))
    return warnings


def prepare() -> None:
    """Migrate the database and load the places if there are none."""
    from sqlalchemy import func, select

    from gateway import migrate
    from gateway.cli.progress import progress
    from gateway.models import Location
    from gateway.registry import imports
    from gateway.runtime import current

    rt = current()
    migrate.upgrade(rt.settings.database_url)
    with rt.db.reading() as session:
        if not session.scalar(select(func.count(Location.id))):
            print("loading Rwanda's villages (once)...", flush=True)
            with progress("locations") as report:
                imports.import_locations(rt, progress=report)


def prepare_or_explain() -> None:
    """prepare(), a failure an operator can fix told in one line (exit status 1 or 2)."""
    from gateway.cli.errors import debugging, explain

    try:
        prepare()
    except Exception as exc:
        plain = explain(exc)
        if plain is None or debugging():
            raise
        plain.show()
        raise SystemExit(plain.exit_code) from None


def main(argv: list[str]) -> int:
    if argv[:1] in ([], ["--help"], ["-h"], ["help"]):
        from gateway.cli import overview

        print(overview())
        return 0
    warnings = development_environment()
    if argv[:1] == ["--flask"]:
        from flask.cli import FlaskGroup

        args = argv[1:]
        if args[:1] == ["--debug"]:
            os.environ["FLASK_DEBUG"] = "1"  # what flask's --debug sets; tracebacks from prepare too
        new_keys = [w for w in warnings if w.startswith("NEW KEYS")]
        if new_keys:
            loudly(*new_keys)
        # Help needs no database: it is shown before anything is migrated or loaded.
        if not {"--help", "-h"} & set(args) and args:
            prepare_or_explain()
        FlaskGroup().main(["--app", "wsgi", *args], prog_name="./ijwi")
        return 0
    prepare_or_explain()
    if warnings:
        loudly(*warnings)
    # A worker that dies (killed, out of memory) is started again by its supervisor.
    os.environ["IJWI_SUPERVISE_WORKER"] = "1"
    os.environ.setdefault("PORT", "5000")
    share_metrics(os.environ)
    bin_dir = Path(sys.executable).parent
    os.environ["PATH"] = f"{bin_dir}{os.pathsep}{os.environ['PATH']}"
    print(f"Ijwi gateway on http://127.0.0.1:{os.environ['PORT']}  (USSD callback: POST /ussd)", flush=True)
    from honcho.command import main as honcho_main

    honcho_main(honcho_args(argv, os.environ))
    return 0


def share_metrics(environ: MutableMapping[str, str]) -> None:
    """Let every process started here write its metrics into one folder (PROMETHEUS_MULTIPROC_DIR,
    default instance/metrics), emptied first: a dead process's counts would otherwise stay."""
    from gateway.metrics import prepare_multiproc_dir

    folder = environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(METRICS_DIR.resolve()))
    prepare_multiproc_dir(folder)


def honcho_args(argv: list[str], environ: Mapping[str, str]) -> list[str]:
    """`honcho start` of the Procfile's processes (web and worker unless argv names others),
    with WORKERS worker processes (default 1)."""
    workers = environ.get("WORKERS", "1").strip()
    if not workers.isdigit() or int(workers) < 1:
        raise SystemExit(f"WORKERS must be a whole number of at least 1, not {workers!r}")
    return ["start", "-f", "Procfile", "-c", f"worker={int(workers)}", *(argv or ["web", "worker"])]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
