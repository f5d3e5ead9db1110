"""English and Simplified Chinese stay complete: every string in the code has a Chinese translation."""
import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent


def test_chinese_catalogue_translates_every_string(tmp_path):
    pot = tmp_path / "messages.pot"
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", "-q", "extract", "-F", str(ROOT / "babel.cfg"),
                    "-k", "_l", "-k", "lazy_gettext", "-o", str(pot), str(ROOT)], check=True, cwd=ROOT)
    wanted = {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(pot.open("rb")) if m.id}
    with (ROOT / "crm/translations/zh_Hans_CN/LC_MESSAGES/messages.po").open("rb") as po:
        catalogue = read_po(po)
    translated = {(m.id if isinstance(m.id, str) else m.id[0]) for m in catalogue
                  if m.id and not m.fuzzy and (m.string if isinstance(m.string, str) else m.string[0])}
    missing = sorted(wanted - translated)
    assert not missing, f"untranslated in zh_Hans_CN ({len(missing)}): {missing[:20]}"


def test_chinese_strings_keep_their_placeholders():
    import re

    with (ROOT / "crm/translations/zh_Hans_CN/LC_MESSAGES/messages.po").open("rb") as po:
        catalogue = read_po(po)
    for message in catalogue:
        if not message.id:
            continue
        source = message.id if isinstance(message.id, str) else message.id[0]
        target = message.string if isinstance(message.string, str) else message.string[0]
        assert sorted(re.findall(r"%\(\w+\)[sd]", source)) == sorted(re.findall(r"%\(\w+\)[sd]", target)), source
