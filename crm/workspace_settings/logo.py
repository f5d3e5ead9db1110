"""The workspace's logo: any common image, checked by what it contains (never by its name or declared type),
re-encoded as a small PNG of our own, so nothing the uploader wrote is ever served."""
import base64
import hashlib
from io import BytesIO

from flask_babel import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

from crm.errors import Invalid

MAX_BYTES = 1024 * 1024
MAX_PIXELS = 5000 * 5000  # a small file may still unpack into a huge picture; refused before it is decoded
SIDE = 256  # the longest side of the stored logo, in pixels
FORMATS = {"PNG", "JPEG", "GIF", "WEBP"}
# What Pillow raises for a file that is not, or not entirely, a picture it can read.
UNREADABLE = (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError)


def _refused() -> Invalid:
    return Invalid({"logo": _("Upload a PNG, JPEG, GIF or WebP image (SVG and other files are not accepted).")})


def small_png(data: bytes) -> bytes:
    """`data` (an uploaded file's bytes) as a PNG at most SIDE pixels wide and high; Invalid when it is no image
    we accept."""
    if len(data) > MAX_BYTES:
        raise Invalid({"logo": _("Use an image of at most 1 MB.")})
    try:
        with Image.open(BytesIO(data)) as probe:
            if probe.format not in FORMATS:
                raise _refused()
            if probe.width * probe.height > MAX_PIXELS:
                raise Invalid({"logo": _("Use an image of at most 5000 × 5000 pixels.")})
            probe.verify()  # reads the whole file; the image cannot be used after this
        with Image.open(BytesIO(data)) as image:
            image.load()
            picture = ImageOps.exif_transpose(image).convert("RGBA")
        picture.thumbnail((SIDE, SIDE))
        out = BytesIO()
        picture.save(out, "PNG", optimize=True)
    except UNREADABLE:
        raise _refused() from None
    return out.getvalue()


def version_of(png: bytes) -> str:
    """What the logo's URL carries, so a browser keeps each logo for good and fetches a new one at once."""
    return hashlib.sha256(png).hexdigest()[:16]


def encoded(png: bytes) -> str:
    return base64.b64encode(png).decode()


def decoded(text: str) -> bytes:
    return base64.b64decode(text)
