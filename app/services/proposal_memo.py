"""The proposals built lately, for the click that follows a view.

A dispatcher looks at a proposal, then clicks: the commit reuses the proposal the dispatcher
saw when nothing has changed since (same incident version, same state counter, same graph,
and the same active dispatches of the incident, checked under the incident's lock); otherwise
it builds anew.

The view and the click are two requests, and under a server with several worker processes
they are often served by two of them. So a proposal is kept twice: whole in the process that
built it (with its search tree), and in Redis as JSON for the others: its match, allocation
and the routes of the teams it allocated (what the view showed), without the search tree. A
commit that keeps to those teams needs nothing more; one that names another team builds anew.
"""

from __future__ import annotations

import base64
import json
import logging
from typing import Any

import numpy as np
import redis
from sqlalchemy.orm import Session

from app.lru import Lru
from app.services.response import Proposal
from gis import response as rrepo
from plans.allocation import Allocation
from plans.matching import Facts, HazardNear, Match
from routing.engine import Closures, Engine, Route, Step

LOGGER = logging.getLogger(__name__)


class ProposalMemo:
    """Bounded in the process (``size`` proposals) and in time in Redis (``ttl_s``). Kept in
    the app's state, never at module level."""

    def __init__(
        self,
        client: redis.Redis | None = None,
        *,
        prefix: str = "onemap:",
        ttl_s: int = 300,
        size: int = 64,
    ) -> None:
        self.client, self.prefix, self.ttl_s = client, prefix, ttl_s
        self.local: Lru[Proposal] = Lru(size)

    def key(self, incident: Any, state: str, engine: Engine) -> str:
        return (
            f"{self.prefix}memo:proposal:{incident.id}:{incident.version}:{state}:"
            f"{engine.g.version}"
        )

    def put(self, engine: Engine, p: Proposal, state: str | None) -> None:
        """Remember ``p``, built under ``state``; call it once the view has read its routes
        (the copy in Redis holds the routes of the allocated teams, read now if not yet)."""
        if state is None:
            return
        key = self.key(p.incident, state, engine)
        self.local.put((key, id(engine)), p)
        if self.client is None:
            return
        try:
            self.client.set(key, encode(p), ex=self.ttl_s)
        except redis.RedisError as err:
            LOGGER.warning("proposal memo unavailable in Redis: %s", err)

    def recall(
        self, session: Session, engine: Engine, incident: Any, state: str | None
    ) -> Proposal | None:
        """The remembered proposal of ``incident`` (its row, locked by the caller) when nothing
        has changed since; else None. From this process when it built it, else from Redis."""
        if state is None:
            return None
        key = self.key(incident, state, engine)
        p = self.local.get((key, id(engine)))
        if p is None:
            p = self._shared(key, incident)
        if p is None or tuple(rrepo.active_sent(session, incident.id)) != p.sent:
            return None
        return p

    def _shared(self, key: str, incident: Any) -> Proposal | None:
        if self.client is None:
            return None
        try:
            raw = self.client.get(key)
        except redis.RedisError as err:
            LOGGER.warning("proposal memo unavailable in Redis: %s", err)
            return None
        return decode(raw, incident) if raw else None


def encode(p: Proposal) -> bytes:
    """``p`` as JSON: match, facts, allocation, what was sent, and the route of each allocated
    team (read from the search tree now if the view has not read it)."""
    routes = {}
    for f in p.allocation.forces:
        r = p.route(p.team_index[f["team_id"]])
        if r is not None:
            routes[str(f["team_id"])] = {
                # the float64 bytes as they are: exact, and read back without parsing numbers
                "coords": base64.b64encode(
                    np.ascontiguousarray(r.coords, "<f8").tobytes()
                ).decode(),
                "length_m": r.length_m,
                "duration_s": r.duration_s,
                "steps": [s.__dict__ for s in r.steps],
            }
    doc = {
        "matches": [m.__dict__ for m in p.matches],
        "facts": {**p.facts.__dict__, "hazards": [h.__dict__ for h in p.facts.hazards]},
        "allocation": p.allocation.__dict__,
        "routes": routes,
        "sent": list(p.sent),
    }
    return json.dumps(doc, separators=(",", ":")).encode()


def decode(raw: bytes, incident: Any) -> Proposal:
    """A proposal from :func:`encode`, for ``incident``: no search tree, so only the teams it
    allocated have a route (:meth:`Proposal.route` gives None for any other)."""
    doc = json.loads(raw)
    matches = [Match(**{**m, "reasons": tuple(m["reasons"])}) for m in doc["matches"]]
    facts = Facts(
        **{**doc["facts"], "hazards": tuple(HazardNear(**h) for h in doc["facts"]["hazards"])}
    )
    team_index: dict[int, int] = {}
    routes: dict[int, Route] = {}
    for i, (team_id, r) in enumerate(doc["routes"].items()):
        team_index[int(team_id)] = i
        routes[i] = Route(
            np.frombuffer(base64.b64decode(r["coords"]), dtype="<f8").reshape(-1, 2),
            r["length_m"],
            r["duration_s"],
            tuple(Step(**{**s, "location": tuple(s["location"])}) for s in r["steps"]),
        )
    return Proposal(
        incident,
        matches,
        facts,
        Allocation(**doc["allocation"]),
        None,
        team_index,
        {},
        Closures(),
        routes,
        sent=tuple(tuple(s) for s in doc["sent"]),
    )
