"""Optimal transportation with a shortfall: people of rows sent to columns with room.

The assignment step of an evacuation (rows are demands, columns shelters, costs travel times in
seconds), in plain numpy: :func:`transport` places as many people as possible and, among such
plans, minimises the total cost, by successive shortest paths over the columns;
:func:`transport_grouped` solves rows with identical costs as one; :func:`greedy` is the
greedy-nearest-with-room plan to compare with.

Every function takes ``cost`` (rows x columns, ``inf`` where a row cannot use a column),
``supply``/``people`` per row and ``room`` per column (whole numbers) and returns ``(flow,
left)``: ``flow[i, j]`` people of row ``i`` to column ``j`` (int64) and ``left[i]`` people of
row ``i`` placed nowhere.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

INF = math.inf
#: Moves whose costs differ by less than this (seconds) count as equal in the assignment, so
#: people whose routes to two shelters differ only in a shared part move together.
TIE_S = 1e-6


def transport(cost: np.ndarray, supply: np.ndarray, room: np.ndarray) -> tuple[np.ndarray, ...]:
    """Optimal transportation with a shortfall: ``(flow, left)`` with ``flow[i, j]`` people of
    row ``i`` to column ``j`` and ``left[i]`` people of row ``i`` placed nowhere.

    Places as many people as possible and, among such plans, minimises ``sum(cost * flow)``;
    ``cost`` is ``inf`` where a row cannot use a column. Leaving a person out costs ``M``, more
    than any chain of moves between columns can save, so it is the last resort.

    Successive shortest paths on the residual network with the rows contracted away: its nodes
    are the columns and one sink ``T`` (room used, people left out); an arc ``j -> k`` is the
    cheapest move of people from column ``j`` to ``k`` (all rows whose move costs that much, to
    within :data:`TIE_S`, move together). Everyone starts at their cheapest column, which is
    optimal for what it places; while a column holds more than its room, its excess goes along a
    shortest path (Bellman-Ford over the columns) to room left somewhere or out. Every step keeps
    the plan optimal for what it places (standard min-cost flow theory), so the end is optimal.
    """
    m, s = cost.shape
    if m == 0 or s == 0:
        return np.zeros((m, s), dtype=np.int64), np.asarray(supply, dtype=np.int64).copy()
    st = _Transport(np.ascontiguousarray(cost.T), supply, room)
    st.run()
    return st.flow.T.copy(), st.left


class _Transport:
    """State of :func:`transport` (columns ``0..s-1`` and the sink ``T = s``)."""

    def __init__(self, ct: np.ndarray, supply: np.ndarray, room: np.ndarray) -> None:
        s, m = ct.shape
        self.ct, self.s = ct, s
        self.supply = np.asarray(supply, dtype=np.int64)
        self.room = np.asarray(room, dtype=np.int64)
        finite = np.isfinite(ct)
        self.big = (s + 1) * max(float(np.abs(ct[finite]).max(initial=0.0)), 1.0) + 1.0
        self.flow = np.zeros((s, m), dtype=np.int64)  # everyone at their cheapest column
        self.flow[ct.argmin(axis=0), np.arange(m)] = self.supply
        self.left = np.zeros(m, dtype=np.int64)
        self.load = self.flow.sum(axis=1)
        self.used = np.minimum(self.load, self.room)  # room used; the rest is excess
        self.w = np.full((s + 1, s + 1), INF)  # arc costs; row/column s is the sink
        self.out_cost, self.out_who = np.full(s, INF), np.zeros(s, dtype=np.int64)
        self.in_cost, self.in_who = np.full(s, INF), np.zeros(s, dtype=np.int64)
        for j in range(s):
            self._column(j)
        self._sink()
        self.rounds = 0
        self._movers: dict[tuple[int, int], np.ndarray] = {}

    def _column(self, j: int) -> None:
        """Arcs out of column ``j``: its rows' cheapest moves, and leaving one out."""
        idx = np.flatnonzero(self.flow[j])
        if idx.size == 0:
            self.w[j, : self.s], self.out_cost[j] = INF, INF
            return
        vals = self.ct[:, idx] - self.ct[j, idx]
        self.w[j, : self.s] = vals.min(axis=1)
        self.w[j, j] = INF
        k = int(self.ct[j, idx].argmax())
        self.out_cost[j], self.out_who[j] = self.big - self.ct[j, idx[k]], idx[k]

    def _sink(self) -> None:
        """Arcs out of the sink: taking a left-out row back in."""
        idx = np.flatnonzero(self.left)
        if idx.size == 0:
            self.in_cost[:] = INF
            return
        a = self.ct[:, idx].argmin(axis=1)
        self.in_cost = self.ct[np.arange(self.s), idx[a]] - self.big
        self.in_who = idx[a]

    def run(self) -> None:
        s = self.s
        while True:
            excess = np.append(self.load - self.used, self.used.sum() + self.left.sum())
            excess[s] -= self.supply.sum()
            src = int(excess.argmax())
            if excess[src] <= 0:
                return
            self.rounds += 1
            self.w[:s, s] = np.where(self.used < self.room, 0.0, self.out_cost)
            self.w[s, :s] = np.minimum(self.in_cost, np.where(self.used > 0, 0.0, INF))
            dist, par = _bellman_ford(self.w, src)
            dst = int(np.where(excess < 0, dist, INF).argmin())
            path = [dst]
            while path[-1] != src:
                path.append(int(par[path[-1]]))
            path.reverse()
            hops = list(itertools.pairwise(path))
            delta = min(int(excess[src]), int(-excess[dst]))
            for a, b in hops:
                delta = min(delta, self._capacity(a, b))
            touched = set()
            for a, b in hops:
                touched |= self._push(a, b, delta)
            for j in touched - {s}:
                self._column(j)
            if s in touched:
                self._sink()

    def _capacity(self, a: int, b: int) -> int:
        s = self.s
        if a < s and b < s:  # every row whose move costs the least (ties move together)
            idx = np.flatnonzero(self.flow[a])
            cost = self.ct[b, idx] - self.ct[a, idx]
            self._movers[(a, b)] = idx[cost <= self.w[a, b] + TIE_S]
            return int(self.flow[a, self._movers[(a, b)]].sum())
        if b == s:  # room of a, or a row of a left out
            if self.used[a] < self.room[a]:
                return int(self.room[a] - self.used[a])
            return int(self.flow[a, self.out_who[a]])
        if self.in_cost[b] <= 0.0 and math.isfinite(self.in_cost[b]):  # a left-out row into b
            return int(self.left[self.in_who[b]])
        return int(self.used[b])  # room of b given back

    def _push(self, a: int, b: int, delta: int) -> set[int]:
        s = self.s
        if a < s and b < s:
            todo = delta
            for i in self._movers.pop((a, b)):
                take = min(todo, int(self.flow[a, i]))
                self.flow[a, i] -= take
                self.flow[b, i] += take
                todo -= take
                if todo == 0:
                    break
            self.load[a] -= delta
            self.load[b] += delta
            return {a, b}
        if b == s:
            if self.used[a] < self.room[a]:
                self.used[a] += delta
                return set()
            i = self.out_who[a]
            self.flow[a, i] -= delta
            self.left[i] += delta
            self.load[a] -= delta
            return {a, s}
        if self.in_cost[b] <= 0.0 and math.isfinite(self.in_cost[b]):
            i = self.in_who[b]
            self.left[i] -= delta
            self.flow[b, i] += delta
            self.load[b] += delta
            return {b, s}
        self.used[b] -= delta
        return set()


def _bellman_ford(w: np.ndarray, src: int) -> tuple[np.ndarray, np.ndarray]:
    """Shortest distances from ``src`` over the dense arc costs ``w`` (no negative cycles)."""
    s = w.shape[0]
    dist = np.full(s, INF)
    dist[src] = 0.0
    par = np.full(s, -1, dtype=np.int64)
    cols = np.arange(s)
    for _ in range(s):
        cand = dist[:, None] + w
        frm = cand.argmin(axis=0)
        best = cand[frm, cols]
        better = best < dist - 1e-9 * np.maximum(1.0, np.abs(np.where(np.isfinite(best), best, 0)))
        if not better.any():
            break
        dist = np.where(better, best, dist)
        par = np.where(better, frm, par)
    return dist, par


def greedy(cost: np.ndarray, supply: np.ndarray, room: np.ndarray) -> tuple[np.ndarray, ...]:
    """Rows in input order, each to its nearest column with room, then the next nearest."""
    m, s = cost.shape
    flow = np.zeros((m, s), dtype=np.int64)
    left = np.zeros(m, dtype=np.int64)
    free = room.astype(np.int64).copy()
    for i in range(m):
        need = int(supply[i])
        for j in np.argsort(cost[i], kind="stable"):
            if need == 0 or not np.isfinite(cost[i, j]):
                break
            take = min(need, int(free[j]))
            flow[i, j] += take
            free[j] -= take
            need -= take
        left[i] = need
    return flow, left


def transport_grouped(
    cost: np.ndarray, people: np.ndarray, room: np.ndarray
) -> tuple[np.ndarray, ...]:
    """:func:`transport` with rows of identical costs solved as one, then split in row order."""
    if cost.shape[0] == 0:
        return np.zeros(cost.shape, dtype=np.int64), np.zeros(0, dtype=np.int64)
    uniq, inverse = np.unique(cost, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    supply = np.bincount(inverse, weights=people, minlength=uniq.shape[0]).astype(np.int64)
    g_flow, g_left = transport(uniq, supply, room)
    if uniq.shape[0] == cost.shape[0]:
        return g_flow[inverse], g_left[inverse]
    flow = np.zeros(cost.shape, dtype=np.int64)
    left = np.zeros(cost.shape[0], dtype=np.int64)
    for g, members in enumerate(_groups(inverse, uniq.shape[0])):
        budget = [(int(j), int(g_flow[g, j])) for j in np.flatnonzero(g_flow[g])]
        budget.append((-1, int(g_left[g])))
        k = 0
        for i in members:
            need = int(people[i])
            while need:
                j, amount = budget[k]
                take = min(need, amount)
                if j >= 0:
                    flow[i, j] += take
                else:
                    left[i] += take
                need -= take
                budget[k] = (j, amount - take)
                if budget[k][1] == 0:
                    k += 1
    return flow, left


def _groups(inverse: np.ndarray, n: int) -> list[np.ndarray]:
    order = np.argsort(inverse, kind="stable")
    bounds = np.searchsorted(inverse[order], np.arange(n + 1))
    return [order[bounds[g] : bounds[g + 1]] for g in range(n)]
