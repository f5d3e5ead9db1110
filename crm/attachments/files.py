"""What an uploaded file is, told from its bytes: its type (puremagic), whether it may be kept, whether a browser
may show it, its cleaned name and its thumbnail. Nothing here trusts the name or the type the browser sent."""
import codecs
import io
import mimetypes
import re
import unicodedata
import warnings

import puremagic
from flask_babel import gettext as _
from PIL import Image

from crm.errors import Invalid

HEAD = 8192  # what the type detector reads
NAME_LIMIT = 200
# Shown in the browser (a preview): images Pillow read within the pixel cap (so they have a thumbnail) and PDFs.
IMAGES = {"image/png", "image/jpeg", "image/gif", "image/webp"}
INLINE = IMAGES | {"application/pdf"}
# Content a browser would run if it rendered it: always sent as a download of bytes, never under its own type.
ACTIVE = {"text/html", "application/xhtml+xml", "image/svg+xml", "application/xml", "text/xml", "text/javascript",
          "application/javascript", "application/x-shockwave-flash", "application/vnd.adobe.flash.movie"}
# Programs are refused whatever they are called.
PROGRAMS = {"application/vnd.microsoft.portable-executable", "application/x-msdownload", "application/x-dosexec",
            "application/x-executable", "application/x-elf", "application/x-mach-binary",
            "application/x-sharedlib", "application/java-archive", "application/x-msi"}
PROGRAM_EXTENSIONS = {".exe", ".dll", ".com", ".scr", ".sys", ".msi", ".cpl", ".ocx", ".pif", ".appimage"}
PROGRAM_NAMES = re.compile(r"\b(ELF|Mach-O|executable|PE32)\b", re.IGNORECASE)
UNSAFE_IN_NAME = re.compile(r'[<>:"|?*]')
THUMBNAIL = (320, 320)


def detect(head: bytes) -> str:
    """The content type of a file starting with `head`: "application/x-executable" when any match is a program,
    else the detector's best match with a type, else text or bytes."""
    try:
        matches = puremagic.magic_string(head)
    except (puremagic.PureError, ValueError):
        matches = []
    if any(_is_program(match) for match in matches):
        return "application/x-executable"
    typed = [match.mime_type for match in matches if match.mime_type]
    if typed:
        return typed[0]
    return "text/plain" if _is_text(head) else "application/octet-stream"


def _is_program(match) -> bool:
    return (match.mime_type in PROGRAMS or (match.extension or "").lower() in PROGRAM_EXTENSIONS
            or bool(PROGRAM_NAMES.search(match.name or "")))


def _is_text(head: bytes) -> bool:
    if b"\0" in head:
        return False
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)  # a character cut at the end is fine
        return True
    except UnicodeDecodeError:
        return False


def check(name: str, size: int, content_type: str, max_bytes: int) -> None:
    """Refuse an empty or oversized file, a program, or content that is not what its name says (a PDF named
    .jpg, a program named .pdf): Invalid({"files": ...}) naming the file."""
    if size == 0:
        raise Invalid({"files": _("%(name)s is empty.", name=name)})
    if size > max_bytes:
        raise Invalid({"files": _("%(name)s is over %(limit)s MB.", name=name,
                                  limit=f"{max_bytes / 1024 / 1024:g}")})
    if content_type == "application/x-executable":
        raise Invalid({"files": _("%(name)s is a program; programs can't be attached.", name=name)})
    claimed = mimetypes.guess_type(name, strict=False)[0]
    if claimed and not _agrees(claimed, content_type):
        raise Invalid({"files": _("The content of %(name)s is not what its name says (%(found)s).", name=name,
                                  found=content_type)})


def _agrees(claimed: str, found: str) -> bool:
    """Whether content of type `found` may carry a name of type `claimed`: checked for the types people open
    without a second thought (pictures, PDFs, plain text); other names are not judged."""
    if claimed.startswith("image/"):
        return found.startswith("image/")
    if claimed == "application/pdf":
        return found == "application/pdf"
    if claimed in ("text/plain", "text/csv"):
        return found.startswith("text/")
    return True


def clean_name(raw: str) -> str:
    """A file name safe to store and send back: no folders (`../`, `C:\\`), no control or format characters,
    no leading dots, at most 200 characters with the extension kept; Chinese and other letters stay."""
    name = unicodedata.normalize("NFC", raw or "")
    name = re.split(r"[\\/]", name)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = UNSAFE_IN_NAME.sub("_", name).strip().lstrip(".").strip()
    if len(name) > NAME_LIMIT:
        stem, dot, ext = name.rpartition(".")
        name = stem[:NAME_LIMIT - len(ext) - 1] + dot + ext if dot and len(ext) <= 10 else name[:NAME_LIMIT]
    return name


def thumbnail(stream, content_type: str, max_pixels: int) -> bytes | None:
    """A small PNG of an image, re-encoded by Pillow; None for anything that is not a readable image within
    `max_pixels` (checked from the header, before a decompression bomb is decoded)."""
    if content_type not in IMAGES:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(stream) as image:
                if image.width * image.height > max_pixels:
                    return None
                image.draft("RGB", THUMBNAIL)
                image.thumbnail(THUMBNAIL)
                out = io.BytesIO()
                image.convert("RGBA").save(out, "PNG", optimize=True)
                return out.getvalue()
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        return None  # not an image Pillow reads safely: kept as a file, shown without a preview
    finally:
        stream.seek(0)


def served_type(content_type: str) -> str:
    """The Content-Type a download is sent with: active content only ever as bytes."""
    return "application/octet-stream" if content_type in ACTIVE else content_type
