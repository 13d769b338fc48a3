"""The webhook's cost in process (Flask test client, no server) as the tree and the places grow."""

from __future__ import annotations

import re
import shutil
import statistics
import time
from dataclasses import dataclass, replace
from pathlib import Path

from bench.growth import GrownPlaces, grown_tree_source
from bench.paths import mixed_paths
from gateway import runtime
from gateway.app import create_app
from gateway.config import Settings
from gateway.registry import imports
from gateway.ussd import callers

# A reference number on an END screen.
REFERENCE = re.compile(r"\b\d{7}\b")
# The one volunteer of these sessions, and where they live.
VOLUNTEER_PHONE = "+250790000001"
VOLUNTEER_CSV = (
    "name,phone,district,sector,cell,village,language\n"
    f"Bench Volunteer,{VOLUNTEER_PHONE},Nyarugenge,Kimisagara,Katabaro,Ubumwe,rw\n"
)


@dataclass(frozen=True)
class CostRow:
    variant: str
    nodes: int
    villages: int
    sessions: int
    hops: int
    mean_us: float
    p50_us: float
    p99_us: float


def measure(base: Settings, workdir: Path, sessions: int, tree_factor: int = 1, village_factor: int = 1) -> CostRow:
    """Time every hop of sessions whole report sessions on a copy of base's SQLite database."""
    template = Path(base.database_url.removeprefix("sqlite:///"))
    db_file = workdir / f"webhook-t{tree_factor}-v{village_factor}.db"
    shutil.copy(template, db_file)
    settings = replace(base, database_url=f"sqlite:///{db_file}", webhook_token="", dev_mode=True)
    previous = runtime.install(None)
    app = create_app(settings)
    rt = app.extensions["ijwi"]
    try:
        rt.redis.flushdb()
        places = GrownPlaces(rt.db, rt.redis, copies=village_factor)
        rt.__dict__["places"] = places
        if tree_factor > 1:
            rt.menus.publish(grown_tree_source(tree_factor), settings.ussd_max_chars)
        tree = rt.menus.active()
        imports.import_volunteers(rt, VOLUNTEER_CSV)
        home = callers.profile(rt, VOLUNTEER_PHONE).home
        assert home is not None
        lang = tree.languages[0]
        places.village_count()  # loads the places (and their copies) now
        paths = mixed_paths(tree, places, sessions + 1, 0.5, home, lang, below=places.first_copy_id)
        client = app.test_client()
        times: list[float] = []
        for n, path in enumerate(paths):
            phone = VOLUNTEER_PHONE if path.kind == "volunteer" else f"+25072{n:07d}"
            for hop in range(len(path.inputs) + 1):
                form = {
                    "sessionId": f"ATUid_cost_t{tree_factor}_v{village_factor}_{n}",
                    "serviceCode": settings.ussd_service_code,
                    "phoneNumber": phone,
                    "networkCode": "63510",
                    "text": "*".join(path.inputs[:hop]),
                }
                started = time.perf_counter()
                reply = client.post("/ussd", data=form).get_data(as_text=True)
                elapsed = time.perf_counter() - started
                want = "END " if hop == len(path.inputs) else "CON "
                if not reply.startswith(want) or (want == "END " and not REFERENCE.search(reply)):
                    raise RuntimeError(f"hop {hop} of {path.inputs} answered {reply[:60]!r}")
                if n:  # the first session warms the caches
                    times.append(elapsed)
        times.sort()
        return CostRow(
            variant=f"tree x{tree_factor}, villages x{village_factor}",
            nodes=len(tree.nodes),
            villages=places.village_count(),
            sessions=sessions,
            hops=len(times),
            mean_us=statistics.fmean(times) * 1e6,
            p50_us=times[len(times) // 2] * 1e6,
            p99_us=times[min(len(times) - 1, int(len(times) * 0.99))] * 1e6,
        )
    finally:
        rt.redis.flushdb()
        rt.db.engine.dispose()
        runtime.install(previous)


def run(
    base: Settings,
    workdir: Path,
    sessions: int,
    tree_factors: tuple[int, ...] = (1, 10, 100),
    village_factors: tuple[int, ...] = (10,),
) -> list[CostRow]:
    """The shipped tree and places first (the baseline), then each bigger tree, then more villages."""
    variants = [(t, 1) for t in tree_factors] + [(1, v) for v in village_factors if v != 1]
    return [measure(base, workdir, sessions, t, v) for t, v in variants]
