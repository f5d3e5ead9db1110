"""Workspace slugs: the `/<slug>/` part of every tenant URL."""
import re
import unicodedata

SLUG_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{1,38})[a-z0-9]$")
RESERVED = frozenset("""
    about account accounts admin api app assets auth billing blog dev docs help healthz login logout
    metrics o platform pricing privacy reset settings signup static status support terms www
    password workspaces health favicon robots
""".split())


def slug_problem(slug: str) -> str | None:
    """Why `slug` cannot be used (untranslated key), or None when it is well-formed and not reserved."""
    if not SLUG_PATTERN.match(slug or "") or "--" in slug:
        return "format"
    if slug in RESERVED:
        return "reserved"
    return None


def suggest_slug(name: str) -> str:
    """A slug suggested from a company name; Chinese names fall back to a neutral stem."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:40].strip("-")
    if len(slug) < 3:
        slug = "workspace"
    if slug in RESERVED:
        slug = f"{slug}-team"
    return slug
