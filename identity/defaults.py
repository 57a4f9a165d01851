"""The default identifier types (Segment's defaults; docs/identity.md). Plain data: the data migration
and ``ensure_default_types`` (after a database flush) both read it."""

BLOCKED_VALUES = ["null", "undefined", "-1", "0", "anonymous", "none", "nan", "[object object]"]
BLOCKED_PATTERNS = ["^[0-]*$"]

# key, label, priority (lower wins), limit per profile, anonymous, normalizer
DEFAULT_TYPES = [
    ("user_id", "User id", 1, 1, False, "trim"),
    ("email", "Email", 2, 5, False, "email"),
    ("phone", "Phone", 3, 5, False, "phone"),
    ("android.id", "Android device id", 10, 5, True, "trim"),
    ("android.idfa", "Android advertising id", 11, 5, True, "lower"),
    ("android.push_token", "Android push token", 12, 5, True, "trim"),
    ("anonymous_id", "Anonymous id", 13, 1000, True, "trim"),
    ("cross_domain_id", "Cross-domain id", 14, 1000, True, "trim"),
    ("ios.id", "iOS device id (IDFV)", 15, 5, True, "lower"),
    ("ios.idfa", "iOS advertising id", 16, 5, True, "lower"),
    ("ios.push_token", "iOS push token", 17, 5, True, "trim"),
    ("group_id", "Group (company) id", 50, 1, False, "trim"),
]


def default_type_fields(key, label, priority, limit, anonymous, normalizer) -> dict:
    return {
        "label": label,
        "priority": priority,
        "limit": limit,
        "anonymous": anonymous,
        "normalizer": normalizer,
        "blocked_values": list(BLOCKED_VALUES),
        "blocked_patterns": list(BLOCKED_PATTERNS) if key not in ("email", "phone") else [],
    }
