"""The ingest message stream (Segment spec messages), separate from the loaded data set.

Per 1,000 messages: 600 track calls of known users (userId), 250 of known anonymous visitors
(anonymousId only), 100 of new anonymous visitors (each creates a profile), 40 identify calls linking
an anonymous profile to a known user (anonymous → known merge, ~4%) and 10 identify calls linking a
known user to an established email-only profile with its own history (merge of two established
profiles, ~1%). Profiles used in a merge are never reused, across every stream of one run.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from bench import model
from bench.generate import EVENT_CUM, EVENT_NAMES, Spec, _catalog, _properties, event_count

MIX = ((600, "known"), (250, "anonymous"), (100, "new"), (40, "anon_merge"), (10, "merge"))


@dataclass
class Streams:
    spec: Spec
    profiles: int
    used: set = field(default_factory=set)
    run: int = 0
    _heavy: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.catalog = _catalog(self.spec.seed)
        # messageIds and new anonymous ids must not repeat across bench processes (dedupe, resolution).
        self.nonce = f"{time.time_ns() // 1_000_000:x}"

    def exclude_merged(self, conn) -> None:
        """Profiles merged by earlier runs on this data (``--keep-data``) are not merge candidates."""
        rows = conn.execute("SELECT child_id, parent_id FROM identity_merge").fetchall()
        self.used.update(x for row in rows for x in row)

    # -- profile pickers ---------------------------------------------------------------------------
    def _pick(self, rng: random.Random, cls: str | None, skew: float = 1.5) -> int:
        whales = self.spec.size.whales
        while True:
            i = whales + 1 + int((self.profiles - whales) * rng.random() ** skew)
            if i in self.used or i > self.profiles:
                continue
            if cls is None or model.profile_class(self.spec.seed, i) == cls:
                return i

    def _heavy_list(self, cls: str, min_events: int) -> list[int]:
        key = (cls, min_events)
        if key not in self._heavy:
            seed = self.spec.seed
            found = [
                i
                for i in range(self.spec.size.whales + 1, self.profiles + 1)
                if model.profile_class(seed, i) == cls and event_count(self.spec, i) >= min_events
            ]
            random.Random(f"heavy:{seed}:{cls}").shuffle(found)
            self._heavy[key] = found
        return self._heavy[key]

    def _take_heavy(self, rng: random.Random, cls: str) -> int:
        for min_events in (100, 20, 5, 1):
            for i in self._heavy_list(cls, min_events):
                if i not in self.used:
                    return i
        return self._pick(rng, cls)

    # -- messages ----------------------------------------------------------------------------------
    def _track(self, rng: random.Random, now: datetime, k: int, **ids) -> dict:
        name = rng.choices(EVENT_NAMES, cum_weights=EVENT_CUM)[0]
        if name.startswith(("Email", "Push", "App")):
            name = "Page Viewed"
        ts = (now - timedelta(seconds=rng.random() * 60)).isoformat(timespec="milliseconds")
        return {
            "type": "track",
            **ids,
            "event": name,
            "properties": json.loads(_properties(name, rng.random, self.catalog, k, 0)),
            "context": {"library": {"name": "analytics.js", "version": "4.1.0"}, "locale": "en-US"},
            "timestamp": ts,
            "messageId": f"bench-{self.nonce}-{self.run}-{k}",
        }

    def _identify(self, now: datetime, k: int, traits: dict, **ids) -> dict:
        return {
            "type": "identify",
            **ids,
            "traits": traits,
            "timestamp": now.isoformat(timespec="milliseconds"),
            "messageId": f"bench-{self.nonce}-{self.run}-{k}",
        }

    def ingest(self, n: int) -> tuple[list[dict], dict]:
        """``n`` messages in the documented mix; returns (messages, expected counts)."""
        self.run += 1
        rng = random.Random(f"ingest:{self.spec.seed}:{self.run}")
        seed = self.spec.seed
        now = datetime.now(UTC)
        kinds = [kind for count, kind in MIX for _ in range(count)]
        new_anon: list[str] = []
        out, counts = [], {kind: 0 for _, kind in MIX}
        for k in range(n):
            kind = kinds[rng.randrange(1000)]
            if kind == "known":
                i = self._pick(rng, model.KNOWN)
                msg = self._track(rng, now, k, userId=model.user_id(i))
            elif kind == "anonymous":
                i = self._pick(rng, None)
                msg = self._track(rng, now, k, anonymousId=rng.choice(model.anonymous_ids(seed, i)))
            elif kind == "new":
                anon = f"new-{self.nonce}-{self.run}-{k}-{rng.getrandbits(32):08x}"
                new_anon.append(anon)
                msg = self._track(rng, now, k, anonymousId=anon)
            elif kind == "anon_merge":
                known = self._pick(rng, model.KNOWN)
                self.used.add(known)
                if new_anon and rng.random() < 0.5:
                    anon = new_anon.pop(rng.randrange(len(new_anon)))
                else:
                    child = self._pick(rng, model.ANONYMOUS)
                    self.used.add(child)
                    anon = model.anonymous_ids(seed, child)[0]
                first, last = model.names(seed, known)
                msg = self._identify(
                    now,
                    k,
                    {"first_name": first.title(), "last_name": last.title()},
                    userId=model.user_id(known),
                    anonymousId=anon,
                )
            else:  # merge of two established profiles: known user + an email-only profile's email
                a = self._take_heavy(rng, model.KNOWN)
                self.used.add(a)
                b = self._take_heavy(rng, model.EMAIL_ONLY)
                self.used.add(b)
                msg = self._identify(now, k, {"email": model.email(seed, b)}, userId=model.user_id(a))
            counts[kind] += 1
            out.append(msg)
        return out, counts

    def merges(self, n: int) -> list[dict]:
        """``n`` identify calls that each merge two profiles: 80% anonymous → known, 20% established."""
        self.run += 1
        rng = random.Random(f"merge:{self.spec.seed}:{self.run}")
        seed = self.spec.seed
        now = datetime.now(UTC)
        out = []
        for k in range(n):
            if rng.random() < 0.8:
                known = self._pick(rng, model.KNOWN)
                child = self._pick(rng, model.ANONYMOUS)
                self.used.update((known, child))
                anon = model.anonymous_ids(seed, child)[0]
                out.append(self._identify(now, k, {}, userId=model.user_id(known), anonymousId=anon))
            else:
                a = self._take_heavy(rng, model.KNOWN)
                self.used.add(a)
                b = self._take_heavy(rng, model.EMAIL_ONLY)
                self.used.add(b)
                out.append(self._identify(now, k, {"email": model.email(seed, b)}, userId=model.user_id(a)))
        return out
