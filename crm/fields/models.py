"""Custom field definitions (schema `tenant`); the values live in each record's `custom` JSONB."""
from datetime import datetime

from sqlalchemy import String, UniqueConstraint, insert
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from crm.extensions import db, tenant_pk, utcnow
from crm.names import in_language
from tenants.provisioning import seeds_new_tenants

TYPES = ("text", "long_text", "number", "money", "date", "datetime", "select", "multiselect", "checkbox",
         "email", "phone", "url")
ENTITIES = ("customer", "deal", "order")  # the record kinds a field can belong to (tickets may join later)
RECORD_TABLES = {"customer": ("customers", "name"), "deal": ("deals", "title"), "order": ("orders", "number")}
# Encrypted (sensitive) values need a column of their own and a reveal route: customers have both.
SENSITIVE_ENTITIES = ("customer",)


class CustomField(db.Model):
    __tablename__ = "custom_fields"
    __table_args__ = (UniqueConstraint("entity", "key", name="uq_custom_fields_entity"), {"schema": "tenant"})

    id: Mapped[int] = tenant_pk()
    entity: Mapped[str] = mapped_column(String(20), default="customer")
    key: Mapped[str] = mapped_column(String(40))  # the JSONB key; never changes
    type: Mapped[str] = mapped_column(String(20))
    label_en: Mapped[str] = mapped_column(String(80), default="")  # either label may be empty, not both
    label_zh: Mapped[str] = mapped_column(String(80), default="")
    help_en: Mapped[str] = mapped_column(String(200), default="")
    help_zh: Mapped[str] = mapped_column(String(200), default="")
    required: Mapped[bool] = mapped_column(default=False)
    default: Mapped[str] = mapped_column(String(200), default="")  # as typed in the form
    # [{"key": "k1", "en": "Gold", "zh": "金牌", "retired": false}, ...] in display order
    options: Mapped[list] = mapped_column(JSONB, default=list)
    position: Mapped[int] = mapped_column(default=0)
    in_list: Mapped[bool] = mapped_column(default=False)
    filterable: Mapped[bool] = mapped_column(default=False)
    sensitive: Mapped[bool] = mapped_column(default=False)
    archived_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def label(self, language: str | None = None) -> str:
        """The label in `language` (the reader's when None), else the other one."""
        return in_language(self.label_en, self.label_zh, language)

    def help(self, language: str | None = None) -> str:
        return in_language(self.help_en, self.help_zh, language)

    def option_label(self, key: str, language: str | None = None) -> str:
        for option in self.options:
            if option["key"] == key:
                return in_language(option.get("en"), option.get("zh"), language) or key
        return key


def _preset(key: str, english: str, chinese: str, position: int, options: tuple) -> dict:
    return {"entity": "customer", "key": key, "type": "select", "label_en": english, "label_zh": chinese,
            "options": [{"key": k, "en": en, "zh": zh, "retired": False} for k, en, zh in options],
            "position": position, "in_list": False, "filterable": True, "required": False, "sensitive": False,
            "help_en": "", "help_zh": "", "default": ""}


# The classifications small companies sort customers by (issue 18 §6): ordinary custom fields, so a workspace
# renames, extends, retires or archives them like its own; "old customers of high value" is one filter on day one.
PRESET_FIELDS = (
    _preset("customer_value", "Customer value", "客户价值", 1,
            (("high", "High", "高"), ("normal", "Normal", "普通"), ("low", "Low", "低"))),
    _preset("relationship", "Relationship", "客户关系", 2,
            (("new", "New", "新客户"), ("returning", "Returning", "老客户"), ("potential", "Potential", "潜在客户"))),
)


@seeds_new_tenants
def seed_preset_fields(in_schema: dict) -> None:
    """A new workspace's two customer classifications, editable select fields (one INSERT)."""
    db.session.execute(insert(CustomField), [dict(preset) for preset in PRESET_FIELDS], execution_options=in_schema)
