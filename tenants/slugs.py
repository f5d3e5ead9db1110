"""Workspace slugs: the `/<slug>/` part of every tenant URL."""
import re
import unicodedata

from pypinyin import lazy_pinyin

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


# Endings of Chinese company names that say what kind of company it is, not which: dropped before the pinyin,
# longest first, as often as they repeat (杭州云帆科技有限公司 -> 杭州云帆).
COMPANY_SUFFIXES = sorted("""
    股份有限公司 有限责任公司 有限公司 分公司 公司 集团 控股 科技 技术 网络 信息 贸易 商贸 实业 工作室 商行 企业
    电子 软件 咨询 服务 文化 传媒 国际 中国
""".split(), key=len, reverse=True)
HAN = re.compile(r"[\u3400-\u9fff]")
WORDS = re.compile(r"[\u3400-\u9fff]+|[A-Za-z0-9]+")


def suggest_slug(name: str) -> str:
    """A slug suggested from a company name: a Chinese name as the pinyin of its first two words (杭州云帆科技 ->
    hangzhou-yunfan), any other name as its letters and digits; a neutral stem when too little is left."""
    slug = _pinyin_slug(name) if HAN.search(name or "") else _ascii_slug(name)
    if len(slug) < 3:
        slug = "workspace"
    if slug in RESERVED:
        slug = f"{slug}-team"
    return slug


def _ascii_slug(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:40].strip("-")


def _pinyin_slug(name: str) -> str:
    """Chinese names are mostly two-character words (a city, then the brand): the characters are read in pairs,
    after the company-kind endings and a city's 市 or 省 are dropped; Latin words count as one word each."""
    core = name.strip()
    while stripped := next((core[:-len(s)] for s in COMPANY_SUFFIXES if core.endswith(s) and len(core) > len(s)), ""):
        core = stripped.strip()
    core = re.sub(r"^([\u3400-\u9fff]{2})[市省]", r"\1", core)
    words = []
    for part in WORDS.findall(core):
        if HAN.match(part):
            words += ["".join(lazy_pinyin(part[i:i + 2])) for i in range(0, len(part), 2)]
        else:
            words.append(part.lower())
    return _ascii_slug("-".join(words[:2]))
