"""Deterministic data generator: profiles, identifiers and 12 months of events, as COPY text files.

Output (``bench/data/<size>-s<seed>-<anchor>/``): per chunk of profiles ``persons-NNN.tsv``,
``identities-NNN.tsv`` and ``events-NNN.tsv`` whose lines are grouped by day, with the byte offset of
each day in ``events-NNN.idx``, so the loader can COPY the whole table in time order (as production
appends it, which keeps the BRIN index on time meaningful). A chunk's content depends only on
(seed, chunk index, anchor), never on how many processes generated it.
"""

from __future__ import annotations

import json
import os
import random
from bisect import bisect
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import accumulate
from pathlib import Path

from bench import model
from bench.model import words
from bench.sizes import Size

DATA_ROOT = Path(__file__).resolve().parent / "data"
DAYS = 365
# Bump when the generated content changes: cached files of another version are not reused.
VERSION = 2
DAY = 86_400
# Channels and sources are created in this order by the loader (ids 1, 2, 3).
WEB, EMAIL_CH, APP = 1, 2, 3

CATEGORIES = words(
    "shoes apparel accessories electronics computers phones audio cameras gaming books music movies "
    "toys baby beauty health grocery pet garden tools kitchen furniture bedding lighting office sports "
    "outdoor cycling fitness travel luggage watches jewelry automotive crafts party home decor art "
    "software gifts"
)
N_PRODUCTS = 5_000
PATHS = [f"/{c}" for c in CATEGORIES] + [f"/{c}/p{k}" for c in CATEGORIES for k in range(12)]
PATHS += ["/", "/cart", "/checkout", "/account", "/search", "/help", "/blog", "/pricing"]
QUERIES = words("red shoes usb cable headphones gift for her laptop bag running sale coffee lamp desk")

# (name, weight percent, channel) for a profile without the app; app users move some web events to app.
EVENT_MIX = (
    ("Page Viewed", 30, WEB),
    ("Product Viewed", 15, WEB),
    ("Product Added", 8, WEB),
    ("Products Searched", 6, WEB),
    ("Cart Viewed", 4, WEB),
    ("Checkout Started", 3, WEB),
    ("Order Completed", 4, WEB),
    ("Product Removed", 2, WEB),
    ("Signed In", 5, WEB),
    ("Email Sent", 8, EMAIL_CH),
    ("Email Opened", 5, EMAIL_CH),
    ("Email Clicked", 2, EMAIL_CH),
    ("App Opened", 6, APP),
    ("Push Delivered", 2, APP),
)
EVENT_NAMES = tuple(name for name, _, _ in EVENT_MIX)
EVENT_CUM = tuple(accumulate(w for _, w, _ in EVENT_MIX))
EVENT_CHANNEL = {name: ch for name, _, ch in EVENT_MIX}
CONTEXT = {
    WEB: '{"library": {"name": "analytics.js", "version": "4.1.0"}, "locale": "en-US"}',
    EMAIL_CH: '{"library": {"name": "esp-webhook", "version": "1.0"}}',
    APP: '{"library": {"name": "analytics-ios", "version": "4.1.5"}, "os": {"name": "iOS"}}',
}
PLANS = ("free", "free", "free", "starter", "pro", "pro", "enterprise")
LEVELS = ("", "", "", "bronze", "silver", "gold", "platinum")

# Custom attributes (key, label, type) created as AttributeDefinitions by the loader.
CUSTOM_ATTRIBUTES = (
    ("plan", "Plan", "text"),
    ("ltv", "Lifetime value", "decimal"),
    ("loyalty_points", "Loyalty points", "integer"),
    ("newsletter_opt_in", "Newsletter opt-in", "boolean"),
    ("signup_date", "Signup date", "date"),
    ("favorite_category", "Favorite category", "text"),
    ("nps", "NPS score", "integer"),
)

PERSON_COLUMNS = words(
    "id uid kind first_name last_name email phone gender birth_date city region country timezone language "
    "membership_level custom attribute_meta created_at modified_at first_seen_at last_activity_at "
    "event_count session_count last_contacted_at merged_into_id"
)
EVENT_COLUMNS = words(
    "person_id type name channel_id source_id timestamp original_timestamp sent_at received_at "
    "properties context message_id"
)
IDENTITY_COLUMNS = ("person_id", "type", "value", "first_seen_at")


@dataclass(frozen=True)
class Spec:
    size: Size
    seed: int
    anchor: date  # events end at this day's midnight UTC

    @property
    def key(self) -> str:
        return f"{self.size.name}-s{self.seed}-{self.anchor.isoformat()}-v{VERSION}"

    @property
    def directory(self) -> Path:
        return DATA_ROOT / self.key

    @property
    def chunks(self) -> int:
        return -(-self.size.profiles // self.size.chunk)

    @property
    def window_start(self) -> datetime:
        return datetime(self.anchor.year, self.anchor.month, self.anchor.day, tzinfo=UTC) - timedelta(
            days=DAYS
        )


def event_count(spec: Spec, i: int) -> int:
    """Power law (Lomax, alpha 2.2): median ~5, mean ~10, a long tail; a few whales."""
    if i <= spec.size.whales:
        return spec.size.whale_events
    u = (model.mix(spec.seed, i, 50) >> 11) / float(1 << 53)
    alpha, scale = 2.2, 11.3 * spec.size.events / spec.size.profiles / 10
    n = 1 + int(scale * ((1 - u) ** (-1 / alpha) - 1))
    return min(n, spec.size.whale_events)


def _catalog(seed: int) -> list[tuple[str, str, str]]:
    rng = random.Random(f"catalog:{seed}")
    out = []
    for pid in range(N_PRODUCTS):
        cat = CATEGORIES[int(len(CATEGORIES) * rng.random() ** 1.5)]
        price = round(rng.lognormvariate(3.3, 0.9), 2)
        out.append((f"P{pid:05d}", cat, f"{price:.2f}"))
    return out


def generate(spec: Spec, processes: int | None = None, log=print) -> Path:
    """Write every chunk not yet on disk; returns the data directory."""
    out = spec.directory
    out.mkdir(parents=True, exist_ok=True)
    todo = [c for c in range(spec.chunks) if not (out / f"events-{c:03d}.idx").exists()]
    if not todo:
        return out
    log(f"generating {len(todo)} chunk(s) of {spec.key} in {out}")
    processes = processes or min(len(todo), os.cpu_count() or 1)
    if processes == 1:
        for c in todo:
            _chunk(spec, c)
    else:
        with ProcessPoolExecutor(processes) as pool:
            list(pool.map(_chunk, [spec] * len(todo), todo))
    (out / "meta.json").write_text(
        json.dumps(
            {
                "size": spec.size.name,
                "seed": spec.seed,
                "anchor": spec.anchor.isoformat(),
                "chunks": spec.chunks,
            }
        )
    )
    return out


def _chunk(spec: Spec, c: int) -> None:
    seed = spec.seed
    rng = random.Random(f"{seed}:{c}")
    rand = rng.random
    catalog = _catalog(seed)
    place_cum = list(accumulate(model.PLACE_WEIGHTS))
    start = int(spec.window_start.timestamp())
    anchor_ts = start + DAYS * DAY
    day_str = [(spec.window_start + timedelta(days=d)).strftime("%Y-%m-%d ") for d in range(-45, DAYS + 1)]
    tod = [f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}+00" for s in range(DAY)]

    def ts_text(t: int) -> str:
        d, s = divmod(t - start, DAY)
        return day_str[d + 45] + tod[s]

    first = c * spec.size.chunk + 1
    last = min(spec.size.profiles, first + spec.size.chunk - 1)
    days: list[list[str]] = [[] for _ in range(DAYS)]
    persons: list[str] = []
    idents: list[str] = []
    for i in range(first, last + 1):
        cls = model.profile_class(seed, i)
        n = event_count(spec, i)
        created = anchor_ts - int(DAY * (DAYS + 30) * rand() ** 0.8)
        lo = max(created, start)
        span = anchor_ts - lo
        has_email = model.email(seed, i) is not None
        has_app = model.device_id(seed, i) is not None
        names = rng.choices(EVENT_NAMES, cum_weights=EVENT_CUM, k=n)
        t_min, t_max, contacted = anchor_ts, lo, None
        for k, name in enumerate(names):
            t = lo + int(span * rand())
            t_min = min(t_min, t)
            t_max = max(t_max, t)
            channel = EVENT_CHANNEL[name]
            if channel == EMAIL_CH and not has_email:
                name, channel = "Page Viewed", WEB
            elif channel == APP and not has_app:
                name, channel = "Product Viewed", WEB
            elif channel == WEB and has_app and rand() < 0.4:
                channel = APP
            props = _properties(name, rand, catalog, k, i)
            if name in ("Email Sent", "Push Delivered") and (contacted is None or t > contacted):
                contacted = t
            ts = ts_text(t)
            days[(t - start) // DAY].append(
                f"{i}\ttrack\t{name}\t{channel}\t{channel}\t{ts}\t{ts}\t\\N\t{ts}\t{props}\t"
                f"{CONTEXT[channel]}\tg{i:x}-{k:x}\n"
            )
        first_name, last_name = model.names(seed, i) if cls != model.ANONYMOUS else ("", "")
        country, region, city, tz, lang = model.PLACES[bisect(place_cum, rand() * place_cum[-1])]
        if cls == model.ANONYMOUS:
            region = city = ""
        email = model.email(seed, i) or ""
        phone = model.phone(seed, i) or ""
        gender = ("female", "male", "other", "")[bisect((45, 88, 90, 100), rand() * 100)]
        birth = "\\N"
        if cls != model.ANONYMOUS and rand() < 0.7:
            birth = (date(1950, 1, 1) + timedelta(days=int(rand() * 20_000))).isoformat()
        custom = {}
        if cls != model.ANONYMOUS:
            custom = {
                "plan": PLANS[int(rand() * len(PLANS))],
                "ltv": round(rand() ** 3 * 5000, 2),
                "loyalty_points": int(rand() ** 2 * 10_000),
                "newsletter_opt_in": rand() < 0.45,
                "signup_date": ts_text(created)[:10],
                "favorite_category": CATEGORIES[int(len(CATEGORIES) * rand() ** 1.5)],
            }
            if rand() < 0.3:
                custom["nps"] = int(rand() * 11)
        created_s = ts_text(created)
        first_seen = ts_text(min(created, t_min)) if n else created_s
        persons.append(
            "\t".join(
                (
                    str(i),
                    _uuid(seed, i),
                    "company" if rand() < 0.02 else "person",
                    first_name,
                    last_name,
                    email,
                    phone,
                    gender if cls != model.ANONYMOUS else "",
                    birth,
                    city,
                    region,
                    country,
                    tz if cls != model.ANONYMOUS else "",
                    lang,
                    LEVELS[int(rand() * len(LEVELS))] if cls == model.KNOWN else "",
                    json.dumps(custom, separators=(",", ":")),
                    "{}",
                    created_s,
                    ts_text(t_max) if n else created_s,
                    first_seen,
                    ts_text(t_max) if n else "\\N",
                    str(n),
                    str(max(1, n // 6)) if n else "0",
                    ts_text(contacted) if contacted else "\\N",
                    "\\N",
                )
            )
            + "\n"
        )
        for id_type, value in model.identifiers(seed, i):
            idents.append(f"{i}\t{id_type}\t{value}\t{first_seen}\n")
    out = spec.directory
    (out / f"persons-{c:03d}.tsv").write_text("".join(persons))
    (out / f"identities-{c:03d}.tsv").write_text("".join(idents))
    offsets = [0]
    with open(out / f"events-{c:03d}.tsv", "w") as f:
        for lines in days:
            data = "".join(lines)
            f.write(data)
            offsets.append(offsets[-1] + len(data.encode()))
    (out / f"events-{c:03d}.idx").write_text(" ".join(map(str, offsets)))


def _uuid(seed: int, i: int) -> str:
    h = f"{model.mix(seed, i, 90):016x}{model.mix(seed, i, 91):016x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-8{h[17:20]}-{h[20:32]}"


def _properties(name: str, rand, catalog, k: int, i: int) -> str:
    if name == "Page Viewed":
        path = PATHS[int(len(PATHS) * rand() ** 2)]
        return f'{{"path": "{path}", "title": "Shop {path}", "referrer": "https://www.google.com/"}}'
    if name in ("Product Viewed", "Product Added", "Product Removed"):
        pid, cat, price = catalog[int(N_PRODUCTS * rand() ** 3)]
        extra = f', "quantity": {1 + int(rand() ** 4 * 5)}' if name == "Product Added" else ""
        return f'{{"product_id": "{pid}", "category": "{cat}", "price": {price}{extra}}}'
    if name == "Order Completed":
        pid, cat, price = catalog[int(N_PRODUCTS * rand() ** 3)]
        q = 1 + int(rand() ** 4 * 5)
        amount = round(float(price) * q, 2)
        return (
            f'{{"order_id": "O{i:x}{k:x}", "amount": {amount:.2f}, "currency": "USD", "category": "{cat}", '
            f'"product_id": "{pid}", "quantity": {q}}}'
        )
    if name == "Checkout Started":
        return f'{{"amount": {rand() * 400:.2f}, "products_count": {1 + int(rand() * 4)}}}'
    if name == "Cart Viewed":
        return f'{{"cart_size": {1 + int(rand() * 6)}}}'
    if name == "Products Searched":
        return f'{{"query": "{QUERIES[int(rand() * len(QUERIES))]}"}}'
    if name in ("Email Sent", "Email Opened", "Push Delivered"):
        camp = int(rand() * 120)
        return f'{{"campaign_id": "C{camp:03d}", "subject": "Campaign {camp}"}}'
    if name == "Email Clicked":
        camp = int(rand() * 120)
        return f'{{"campaign_id": "C{camp:03d}", "url": "https://shop.example.com/c/{camp}"}}'
    if name == "Signed In":
        return '{"method": "password"}' if rand() < 0.7 else '{"method": "google"}'
    if name == "App Opened":
        return (
            '{"app_version": "3.2.1", "os": "iOS"}'
            if rand() < 0.5
            else '{"app_version": "3.2.0", "os": "Android"}'
        )
    return "{}"
