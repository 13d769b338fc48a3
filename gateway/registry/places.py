"""The place hierarchy in memory, for the USSD picker and for routing."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

from redis import Redis
from sqlalchemy import select

from gateway import keys
from gateway.db import Database
from gateway.models import Location

# Seconds between looks at the places' version stamp in Redis.
CHECK_EVERY = 30


@dataclass(frozen=True)
class Place:
    id: int
    level: str
    name: str
    parent_id: int | None


class PlaceIndex:
    """Every location, by id and by parent; loaded from SQL once, refreshed now and then."""

    def __init__(self, db: Database, redis: Redis) -> None:
        self._db = db
        self._redis = redis
        self._lock = threading.Lock()
        self._checked_at = 0.0
        self._stamp: str | None = None
        self._by_id: dict[int, Place] = {}
        self._children: dict[int | None, list[tuple[int, str]]] = {}
        self._villages: dict[int, int] | None = None

    def _ensure(self) -> None:
        """Load on first use; read again only when an import changed the places."""
        if self._by_id and time.monotonic() - self._checked_at < CHECK_EVERY:
            return
        with self._lock:
            if self._by_id and time.monotonic() - self._checked_at < CHECK_EVERY:
                return
            stamp = cast(str | None, self._redis.get(keys.places_stamp()))
            if not self._by_id or stamp != self._stamp:
                self._load()
                self._stamp = stamp
            self._checked_at = time.monotonic()

    def changed(self) -> None:
        """After an import: every process reloads within CHECK_EVERY seconds, this one now."""
        self._redis.set(keys.places_stamp(), str(time.time()))
        with self._lock:
            self._load()
            self._checked_at = 0.0

    def _load(self) -> None:
        with self._db.reading() as session:
            rows = session.execute(select(Location.id, Location.level, Location.name, Location.parent_id)).all()
        by_id = {r.id: Place(r.id, r.level, r.name, r.parent_id) for r in rows}
        children: dict[int | None, list[tuple[int, str]]] = {}
        for place in by_id.values():
            # The picker starts at districts: they are listed under None.
            parent = None if place.level == "district" else place.parent_id
            if place.level != "province":
                children.setdefault(parent, []).append((place.id, place.name))
        for siblings in children.values():
            siblings.sort(key=lambda item: item[1].casefold())
        self._by_id, self._children, self._villages = by_id, children, None

    def children(self, parent: int | None) -> Sequence[tuple[int, str]]:
        self._ensure()
        return self._children.get(parent, [])

    def villages_per_district(self, district_id: int | None = None) -> dict[int, int]:
        """How many villages each district (or the one given) holds; counted once per load."""
        self._ensure()
        counts = self._villages
        if counts is None:
            counted: defaultdict[int, int] = defaultdict(int)
            for place in self._by_id.values():
                if place.level == "village":
                    district = self.ancestor(place.id, "district")
                    if district is not None:
                        counted[district.id] += 1
            self._villages = counts = dict(counted)
        if district_id is not None:
            return {district_id: counts.get(district_id, 0)}
        return counts

    def get(self, place_id: int | None) -> Place | None:
        """The place of an id (None: no place, e.g. a community SMS that named none)."""
        if place_id is None:
            return None
        self._ensure()
        return self._by_id.get(place_id)

    def ancestor(self, place_id: int | None, level: str) -> Place | None:
        """The place of the given level that contains place_id (or is it)."""
        place = self.get(place_id)
        while place is not None and place.level != level:
            place = self.get(place.parent_id) if place.parent_id else None
        return place

    def label(self, place_id: int | None) -> str:
        """Village and cell, or the place's own name for higher levels."""
        place = self.get(place_id)
        if place is None:
            return "?"
        parent = self.get(place.parent_id) if place.parent_id else None
        if place.level == "village" and parent is not None:
            return f"{place.name}, {parent.name}"
        return place.name

    def path_label(self, place_id: int | None) -> str:
        """Village/cell/sector, for an SMS alert."""
        names = []
        place = self.get(place_id)
        while place is not None and place.level not in ("district", "province"):
            names.append(place.name)
            place = self.get(place.parent_id) if place.parent_id else None
        return "/".join(names)
