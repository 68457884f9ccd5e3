"""Every string marked for translation has a Japanese translation in the compiled catalogs."""

import gettext
import shutil
import subprocess
import sys
from pathlib import Path

from django.conf import settings

ROOT = Path(settings.BASE_DIR)
APP_DIRS = ["tenants", "leads", "scoring", "kpis", "diagnostics"]


def _extract_msgids(tmp_path: Path) -> dict[str, set[str]]:
    """Run makemessages on a copy of the sources, so the real catalogs stay untouched."""
    copy = tmp_path / "src"
    ignore = shutil.ignore_patterns(".venv", "*.mo", "var", "artifacts", "node_modules", "__pycache__", "static")
    shutil.copytree(ROOT, copy, ignore=ignore, symlinks=False)
    subprocess.run(
        [
            sys.executable,
            "manage.py",
            "makemessages",
            "-l",
            "ja",
            "--no-obsolete",
            "--ignore=tests/*",
            "--ignore=bench/*",
            "-v",
            "0",
        ],
        cwd=copy,
        check=True,
        env={"DJANGO_SETTINGS_MODULE": "config.settings", "DEBUG": "1", "PATH": "/usr/bin:/bin"},
    )
    found: dict[str, set[str]] = {}
    for po in copy.glob("**/locale/ja/LC_MESSAGES/django.po"):
        ids = set()
        text = po.read_text()
        for block in text.split("\n\n")[1:]:
            msgid = _po_string(block, "msgid")
            if msgid:
                ids.add(msgid)
        found[str(po.relative_to(copy))] = ids
    return found


def _po_string(block: str, key: str) -> str:
    lines = block.splitlines()
    out, active = [], False
    for line in lines:
        if line.startswith(f"{key} "):
            active = True
            out.append(line[len(key) + 1 :].strip()[1:-1])
        elif active and line.startswith('"'):
            out.append(line.strip()[1:-1])
        elif active:
            break
    return "".join(out).encode().decode("unicode_escape").encode("latin-1").decode("utf-8") if out else ""


def test_every_marked_string_has_a_japanese_translation(tmp_path):
    extracted = _extract_msgids(tmp_path)
    assert extracted, "makemessages found no catalogs"
    translated: dict[str, str] = {}
    catalogs = list(ROOT.glob("*/locale/ja/LC_MESSAGES/django.mo"))
    for mo in [*catalogs, ROOT / "locale/ja/LC_MESSAGES/django.mo"]:
        if mo.exists():
            with mo.open("rb") as handle:
                for key, value in gettext.GNUTranslations(handle)._catalog.items():
                    msgid = key[0] if isinstance(key, tuple) else key
                    if value:
                        translated[msgid] = value
    missing = sorted(f"{po}: {msgid!r}" for po, ids in extracted.items() for msgid in ids if msgid not in translated)
    assert not missing, f"{len(missing)} strings lack a Japanese translation:\n" + "\n".join(missing[:60])


def test_english_is_complete_by_construction():
    # Message ids are English: an English user sees every msgid as written.
    assert settings.LANGUAGE_CODE == "ja"
    assert dict(settings.LANGUAGES).keys() == {"ja", "en"}
