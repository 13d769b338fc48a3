"""The Node.js peer: the stack most Africa's Talking USSD apps are built on (express,
ussd-menu-builder, Redis sessions), serving the same report flow, for side-by-side runs.

Its source is the programme's shared `peer/` folder (beside the repository, or BENCH_PEER_DIR);
it is copied into bench/out/peer (git-ignored) and its packages are installed there with npm.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

from bench.paths import SessionPath
from bench.report import OUT
from bench.stack import ROOT, SetupError

# The files of the peer that make it (its node_modules are installed from the lock file).
SOURCE_FILES = ("app.js", "package.json", "package-lock.json")
# Where the copy runs.
TARGET = OUT / "peer"
# The whole session both stacks are driven with: Report a concern, Violence or abuse, in danger,
# 5-11, girl, my village, a few words, Send (8 inputs after the first hop, as the peer's README).
REPORT_INPUTS = ("1", "1", "1", "2", "1", "1", "Child alone at night", "1")
# Seconds npm may take to install the peer's packages.
NPM_TIMEOUT = 300


def report_path() -> SessionPath:
    """The peer's report path, as a registered volunteer's (Ijwi's volunteer picks "My village")."""
    return SessionPath("volunteer", REPORT_INPUTS, 0)


def source_dir() -> Path:
    """The peer's source: BENCH_PEER_DIR, else the nearest shared/peer above the repository."""
    configured = os.environ.get("BENCH_PEER_DIR")
    candidates = [Path(configured)] if configured else [p / "shared" / "peer" for p in ROOT.parents]
    for candidate in candidates:
        if (candidate / "app.js").is_file():
            return candidate
    raise SetupError(
        "the Node peer's source (shared/peer with app.js) is not beside the repository: set BENCH_PEER_DIR to it"
    )


def _fingerprint(folder: Path) -> str:
    digest = hashlib.sha256()
    for name in SOURCE_FILES:
        path = folder / name
        digest.update(path.read_bytes() if path.is_file() else b"-")
    return digest.hexdigest()


def prepare(source: Path | None = None, target: Path = TARGET) -> Path:
    """A runnable copy of the peer in target, its packages installed (npm ci) when missing or
    when the source changed; the folder to run `node app.js` in."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        raise SetupError("node and npm are needed for the peer part: apt-get install nodejs npm (Node 18 or later)")
    source = source or source_dir()
    stamp = target / ".source.sha"
    want = _fingerprint(source)
    if not (target / "node_modules").is_dir() or not stamp.is_file() or stamp.read_text() != want:
        target.mkdir(parents=True, exist_ok=True)
        for name in SOURCE_FILES:
            if (source / name).is_file():
                shutil.copyfile(source / name, target / name)
        install = ["ci"] if (target / "package-lock.json").is_file() else ["install"]
        result = subprocess.run(
            [npm, *install, "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=target,
            capture_output=True,
            text=True,
            timeout=NPM_TIMEOUT,
        )
        if result.returncode:
            last = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["?"]
            raise SetupError(f"npm {install[0]} failed for the peer in {target}: {last[0]}")
        stamp.write_text(want)
    return target


def argv() -> list[str]:
    return ["node", "app.js"]


def env(port: int, redis_url: str) -> dict[str, str]:
    return {"PORT": str(port), "REDIS_URL": redis_url, "NODE_ENV": "production"}
