"""The synthetic population: every profile's class and identifiers are pure functions of (seed, index).

The generator, the ingest stream and the workloads all derive identifiers from here, so nothing has
to be read back from disk to send a message for a known profile.
"""

from __future__ import annotations

MASK = (1 << 64) - 1


def words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


FIRST_NAMES = words(
    "james mary robert patricia john jennifer michael linda david elizabeth william barbara richard "
    "susan joseph jessica thomas sarah charles karen christopher lisa daniel nancy matthew betty "
    "anthony sandra mark margaret donald ashley steven kimberly paul emily andrew donna joshua michelle "
    "kenneth carol kevin amanda brian melissa george deborah timothy stephanie ronald rebecca jason "
    "sharon edward laura jeffrey cynthia ryan amy jacob kathleen gary angela nicholas shirley eric "
    "brenda jonathan emma stephen anna larry pamela justin nicole scott samantha brandon katherine "
    "benjamin christine samuel helen gregory debra alexander rachel patrick carolyn frank janet raymond "
    "maria jack olivia dennis heather jerry diane tyler ruth aaron julie jose joyce adam virginia "
    "sofia lucas mia noah lea hugo ines yuki hana kenji aiko wei li chen priya arjun ananya omar fatima"
)
LAST_NAMES = words(
    "smith johnson williams brown jones garcia miller davis rodriguez martinez hernandez lopez gonzalez "
    "wilson anderson thomas taylor moore jackson martin lee perez thompson white harris sanchez clark "
    "ramirez lewis robinson walker young allen king wright scott torres nguyen hill flores green adams "
    "nelson baker hall rivera campbell mitchell carter roberts gomez phillips evans turner diaz parker "
    "cruz edwards collins reyes stewart morris morales murphy cook rogers gutierrez ortiz morgan cooper "
    "peterson bailey reed kelly howard ramos kim cox ward richardson watson brooks chavez wood james "
    "bennett gray mendoza ruiz hughes price alvarez castillo sanders patel myers long ross foster "
    "jimenez muller schmidt schneider fischer weber meyer wagner becker schulz hoffmann dubois moreau "
    "laurent simon michel lefebvre leroy rossi russo ferrari esposito bianchi tanaka suzuki sato wang"
)
DOMAINS = ("gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "icloud.com", "proton.me", "acme.io")
# (country, region, city, timezone, language)
PLACES = (
    ("US", "California", "San Francisco", "America/Los_Angeles", "en"),
    ("US", "New York", "New York", "America/New_York", "en"),
    ("US", "Texas", "Austin", "America/Chicago", "en"),
    ("US", "Washington", "Seattle", "America/Los_Angeles", "en"),
    ("GB", "England", "London", "Europe/London", "en"),
    ("GB", "Scotland", "Edinburgh", "Europe/London", "en"),
    ("DE", "Berlin", "Berlin", "Europe/Berlin", "de"),
    ("DE", "Bavaria", "Munich", "Europe/Berlin", "de"),
    ("FR", "Ile-de-France", "Paris", "Europe/Paris", "fr"),
    ("FR", "Auvergne-Rhone-Alpes", "Lyon", "Europe/Paris", "fr"),
    ("NL", "North Holland", "Amsterdam", "Europe/Amsterdam", "nl"),
    ("ES", "Madrid", "Madrid", "Europe/Madrid", "es"),
    ("IT", "Lombardy", "Milan", "Europe/Rome", "it"),
    ("JP", "Tokyo", "Tokyo", "Asia/Tokyo", "ja"),
    ("IN", "Karnataka", "Bengaluru", "Asia/Kolkata", "en"),
    ("BR", "Sao Paulo", "Sao Paulo", "America/Sao_Paulo", "pt"),
    ("CA", "Ontario", "Toronto", "America/Toronto", "en"),
    ("AU", "New South Wales", "Sydney", "Australia/Sydney", "en"),
)
PLACE_WEIGHTS = (14, 10, 6, 4, 10, 2, 6, 3, 6, 2, 4, 4, 3, 5, 6, 5, 4, 4)

# Identifier types as the bench names them; the loader maps them onto identity's types.
USER_ID, ANONYMOUS_ID, EMAIL, PHONE, DEVICE_ID = "user_id", "anonymous_id", "email", "phone", "device_id"

# Profile classes.
KNOWN, EMAIL_ONLY, ANONYMOUS = "known", "email_only", "anonymous"


def mix(seed: int, i: int, salt: int) -> int:
    """splitmix64 of (seed, i, salt): a cheap, well-spread deterministic hash."""
    z = (seed * 0x9E3779B97F4A7C15 + i * 0xBF58476D1CE4E5B9 + salt * 0x94D049BB133111EB) & MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def profile_class(seed: int, i: int) -> str:
    r = mix(seed, i, 1) % 100
    if r < 60:
        return KNOWN
    if r < 70:
        return EMAIL_ONLY
    return ANONYMOUS


def user_id(i: int) -> str:
    return f"u{i:08d}"


def anonymous_ids(seed: int, i: int) -> list[str]:
    r = mix(seed, i, 2) % 10
    n = 1 if r < 6 else (2 if r < 9 else 3)
    out = []
    for k in range(n):
        a, b = mix(seed, i, 10 + k), mix(seed, i, 20 + k)
        h = f"{a:016x}{b:016x}"
        out.append(f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:32]}")
    return out


def names(seed: int, i: int) -> tuple[str, str]:
    return (
        FIRST_NAMES[mix(seed, i, 4) % len(FIRST_NAMES)],
        LAST_NAMES[mix(seed, i, 5) % len(LAST_NAMES)],
    )


def email(seed: int, i: int) -> str | None:
    cls = profile_class(seed, i)
    if cls == ANONYMOUS or (cls == KNOWN and mix(seed, i, 3) % 100 >= 92):
        return None
    first, last = names(seed, i)
    return f"{first}.{last}{i}@{DOMAINS[mix(seed, i, 6) % len(DOMAINS)]}"


def phone(seed: int, i: int) -> str | None:
    if profile_class(seed, i) == ANONYMOUS or mix(seed, i, 7) % 100 >= 40:
        return None
    return f"+4474{i:08d}"  # valid UK mobile numbers, unique per profile


def device_id(seed: int, i: int) -> str | None:
    if mix(seed, i, 9) % 100 >= 35:
        return None
    return f"dev-{mix(seed, i, 11):016x}"


def identifiers(seed: int, i: int) -> list[tuple[str, str]]:
    """Every identifier of profile ``i`` as (type, value), highest priority first."""
    out: list[tuple[str, str]] = []
    if profile_class(seed, i) == KNOWN:
        out.append((USER_ID, user_id(i)))
    e = email(seed, i)
    if e:
        out.append((EMAIL, e))
    p = phone(seed, i)
    if p:
        out.append((PHONE, p))
    out.extend((ANONYMOUS_ID, a) for a in anonymous_ids(seed, i))
    d = device_id(seed, i)
    if d:
        out.append((DEVICE_ID, d))
    return out
