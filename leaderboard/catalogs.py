"""The site's translations: .po catalogs compiled to .mo in Python, without GNU gettext.

Django's ``compilemessages`` needs GNU msgfmt, which a laptop or a slim image may lack. The catalogs
are small; this reads a .po file (msgctxt, plurals, multi-line strings, C escapes) and writes the
.mo file Python's ``gettext`` reads. Fuzzy and untranslated entries are left out, as msgfmt does.
The tests compare the result with GNU msgfmt's where it is installed.
"""

from __future__ import annotations

import ast
import struct
from dataclasses import dataclass, field
from pathlib import Path

MAGIC = 0x950412DE


@dataclass
class Entry:
    msgid: str = ""
    msgid_plural: str | None = None
    msgctxt: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)
    line: int = 0

    @property
    def translated(self) -> bool:
        return bool(self.msgstr) and all(self.msgstr.values()) and "fuzzy" not in self.flags


class CatalogError(ValueError):
    pass


def _unquote(text: str, path: Path, line: int) -> str:
    text = text.strip()
    if not (text.startswith('"') and text.endswith('"')):
        raise CatalogError(f"{path}:{line}: expected a quoted string, found {text[:40]!r}")
    try:
        return ast.literal_eval(text)
    except (SyntaxError, ValueError) as exc:
        raise CatalogError(f"{path}:{line}: not a valid string: {exc}") from None


def read_po(path: Path) -> list[Entry]:
    """The entries of a .po file, obsolete ones (``#~``) left out."""
    entries: list[Entry] = []
    entry = Entry()
    key: tuple[str, int] | None = None

    def finish() -> None:
        nonlocal entry, key
        if key is not None:
            entries.append(entry)
        entry, key = Entry(), None

    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#~"):
            if not line:
                finish()
            continue
        if line.startswith("#,"):
            if key is not None:
                finish()
            entry.flags.update(flag.strip() for flag in line[2:].split(","))
            continue
        if line.startswith("#"):
            continue
        if line.startswith('"'):
            if key is None:
                raise CatalogError(f"{path}:{number}: a string that continues nothing")
            text = _unquote(line, path, number)
            name, index = key
            if name == "msgstr":
                entry.msgstr[index] += text
            else:
                setattr(entry, name, (getattr(entry, name) or "") + text)
            continue
        keyword, _, rest = line.partition(" ")
        if keyword in ("msgctxt", "msgid") and key is not None and key[0].startswith("msgstr"):
            finish()
        if not entry.line:
            entry.line = number
        text = _unquote(rest, path, number)
        if keyword in ("msgctxt", "msgid", "msgid_plural"):
            setattr(entry, keyword, text)
            key = (keyword, 0)
        elif keyword == "msgstr":
            entry.msgstr[0] = text
            key = ("msgstr", 0)
        elif keyword.startswith("msgstr[") and keyword.endswith("]"):
            index = int(keyword[7:-1])
            entry.msgstr[index] = text
            key = ("msgstr", index)
        else:
            raise CatalogError(f"{path}:{number}: unknown keyword {keyword!r}")
    finish()
    return entries


def mo_bytes(entries: list[Entry]) -> bytes:
    """The .mo file of the translated entries (the header, msgid "", included)."""
    pairs: dict[bytes, bytes] = {}
    for entry in entries:
        if not (entry.translated or (entry.msgid == "" and entry.msgstr.get(0))):
            continue
        key = entry.msgid if entry.msgid_plural is None else f"{entry.msgid}\0{entry.msgid_plural}"
        if entry.msgctxt is not None:
            key = f"{entry.msgctxt}\x04{key}"
        value = "\0".join(entry.msgstr[index] for index in sorted(entry.msgstr))
        pairs[key.encode()] = value.encode()
    keys = sorted(pairs)
    header_size = 7 * 4
    originals_at = header_size
    translations_at = originals_at + 8 * len(keys)
    data_at = translations_at + 8 * len(keys)
    data = bytearray()
    originals, translations = [], []
    for key in keys:
        originals.append((len(key), data_at + len(data)))
        data += key + b"\0"
    for key in keys:
        value = pairs[key]
        translations.append((len(value), data_at + len(data)))
        data += value + b"\0"
    out = struct.pack("<7I", MAGIC, 0, len(keys), originals_at, translations_at, 0, data_at)
    out += b"".join(struct.pack("<2I", *pair) for pair in originals)
    out += b"".join(struct.pack("<2I", *pair) for pair in translations)
    return out + bytes(data)


def compile_catalogs(locale_dir: Path) -> list[Path]:
    """Write each .po file's .mo beside it when it is missing or older; the .mo files it wrote."""
    written = []
    for po in sorted(locale_dir.glob("*/LC_MESSAGES/*.po")):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        mo.write_bytes(mo_bytes(read_po(po)))
        written.append(mo)
    return written


def stale_catalogs(locale_dir: Path) -> list[Path]:
    """The .po files whose .mo is missing or older than they are."""
    return [
        po
        for po in sorted(locale_dir.glob("*/LC_MESSAGES/*.po"))
        if not po.with_suffix(".mo").exists() or po.with_suffix(".mo").stat().st_mtime < po.stat().st_mtime
    ]
