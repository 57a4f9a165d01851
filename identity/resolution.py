"""The deterministic identity resolution algorithm (docs/identity.md), planned in memory.

``Resolver`` starts from what the database holds for every identifier of a batch (read with a
constant number of queries) and resolves the batch's messages in order, as if one at a time:

1. look up every identifier of the message;
2. none known → a new profile; one profile → use it and attach the new identifiers;
   several → merge them into the oldest;
3. whenever attaching or merging would take a profile over an identifier type's limit, drop the
   message's lowest-priority identifier and try again.

It records the new profiles, identities and merges for the pipeline to write. Pure: no queries.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

Ident = tuple[str, str]  # (type key, normalised value)
Ref = int | str  # an existing person's pk, or "new:<n>" for a profile this batch creates


@dataclass
class Outcome:
    action: str  # "create" | "attach" | "merge" | "match" | "drop"
    person: Ref | None
    used: list[Ident]
    new: list[Ident]
    dropped: list[Ident]
    merged: list[Ref] = field(default_factory=list)  # the profiles merged into ``person``


@dataclass
class PlannedMerge:
    parent: Ref
    child: Ref
    message_index: int
    reason: str


@dataclass
class Resolver:
    priority: dict[str, tuple[int, str]]  # type key → sort key (lower wins)
    limits: dict[str, int]
    owner: dict[Ident, Ref]  # identifier → person, as stored
    counts: dict[Ref, Counter]  # person → identifiers per type, as stored
    age: dict[Ref, tuple]  # person → (0, created_at, pk), new ones (1, ...): the oldest is the parent
    kinds: dict[Ref, str] = field(default_factory=dict)
    redirect: dict[Ref, Ref] = field(default_factory=dict)
    new_people: dict[str, tuple[datetime, str]] = field(default_factory=dict)  # ref → (created, kind)
    new_identities: dict[Ident, tuple[Ref, int]] = field(default_factory=dict)  # → (person, message)
    merges: list[PlannedMerge] = field(default_factory=list)

    def find(self, ref: Ref) -> Ref:
        while ref in self.redirect:
            ref = self.redirect[ref]
        return ref

    def owner_of(self, ident: Ident) -> Ref | None:
        ref = self.owner.get(ident)
        return None if ref is None else self.find(ref)

    def _fits(self, owners: list[Ref], new: list[Ident]) -> bool:
        added = Counter(key for key, _ in new)
        types = set(added)
        if len(owners) > 1:
            seen: Counter = Counter()
            for ref in owners:
                for key, n in self.counts.get(ref, Counter()).items():
                    if n:
                        seen[key] += 1
            types |= {key for key, n in seen.items() if n > 1}
        for key in types:
            total = added[key] + sum(self.counts.get(ref, Counter())[key] for ref in owners)
            if total > self.limits.get(key, 1):
                return False
        return True

    def plan(
        self,
        identifiers: list[Ident],
        *,
        at: datetime,
        message_index: int,
        create: bool = True,
        attach: bool = True,
        kind: str = "person",
        reason: str = "resolution",
    ) -> Outcome:
        """Resolve one message's identifiers. ``create``/``attach`` False: Update Only / Read Only."""
        ids = sorted(dict.fromkeys(identifiers), key=lambda ident: (self.priority[ident[0]], ident[1]))
        dropped: list[Ident] = []
        while ids:
            owners = list(dict.fromkeys(ref for ref in map(self.owner_of, ids) if ref is not None))
            new = [ident for ident in ids if self.owner_of(ident) is None]
            if not attach:
                # Read Only: nothing is written to profiles; use the best-matching existing one.
                if not owners:
                    return Outcome("drop", None, ids, [], dropped)
                return Outcome("match", owners[0], ids, [], dropped)
            if not owners and not create:
                return Outcome("drop", None, ids, [], dropped)
            if self._fits(owners, new):
                break
            dropped.append(ids.pop())
        if not ids:
            return Outcome("drop", None, [], [], dropped)

        if not owners:
            person: Ref = f"new:{len(self.new_people) + 1}"
            self.new_people[person] = (at, kind)
            self.age[person] = (1, at, len(self.new_people))
            self.kinds[person] = kind
            action = "create"
            merged: list[Ref] = []
        else:
            ordered = sorted(owners, key=lambda ref: self.age[ref])
            person, merged = ordered[0], ordered[1:]
            action = "merge" if merged else ("attach" if new else "match")
            for child in merged:
                self.redirect[child] = person
                self.counts.setdefault(person, Counter()).update(self.counts.pop(child, Counter()))
                self.merges.append(PlannedMerge(person, child, message_index, reason))
        counts = self.counts.setdefault(person, Counter())
        for ident in new:
            self.owner[ident] = person
            self.new_identities[ident] = (person, message_index)
            counts[ident[0]] += 1
        return Outcome(action, person, ids, new, dropped, merged)
