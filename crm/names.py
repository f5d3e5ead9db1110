"""Names a workspace gives things in English and Chinese (pipelines, stages, custom fields and their options).

Either name may be left empty: a company that works in one language names things once. Readers see the name
in their language, else the one in the other language, so nothing is ever shown blank."""
import re

from flask_babel import get_locale
from flask_babel import gettext as _
from pypinyin import lazy_pinyin

from crm import validation
from crm.errors import Invalid

CHINESE = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def reader_language() -> str:
    """'zh' when the page is read in Chinese, else 'en'."""
    locale = get_locale()
    return "zh" if locale is not None and locale.language == "zh" else "en"


def in_language(english: str | None, chinese: str | None, language: str | None = None) -> str:
    """The name in `language` (the reader's when None), else the one in the other language."""
    if (language or reader_language()) == "zh":
        return chinese or english or ""
    return english or chinese or ""


def both(english: str | None, chinese: str | None) -> dict[str, str]:
    """The name as each language shows it, for values stored now and read later in either language."""
    return {"en": in_language(english, chinese, "en"), "zh": in_language(english, chinese, "zh")}


def clean(data, english_field: str, chinese_field: str, limit: int) -> dict[str, str]:
    """Both names from a form, each optional but not both: Invalid at the English field when both are empty."""
    errors = {}
    names = {english_field: validation.collect(errors, validation.text, data.get(english_field), english_field, limit),
             chinese_field: validation.collect(errors, validation.text, data.get(chinese_field), chinese_field, limit)}
    if not errors and not any(names.values()):
        errors[english_field] = _("Enter a name in English or Chinese.")
    if errors:
        raise Invalid(errors)
    return {name: value or "" for name, value in names.items()}


def is_chinese(text: str) -> bool:
    """Whether `text` has Chinese characters (a name typed without saying its language)."""
    return bool(CHINESE.search(text or ""))


def ascii_words(text: str) -> str:
    """`text` with Chinese characters spelt in pinyin, one word per syllable (客户等级 -> "ke hu deng ji"), for
    keys made from a name."""
    return " ".join(lazy_pinyin(text or ""))
