"""A tiny PDF writer for tests: text lines in Helvetica at chosen sizes, nothing else.

Tests need real PDFs (a guide with headings and bullets, a scanned page with
no text layer, a password-protected file) without shipping binaries or adding
a PDF-writing dependency. Fonts are the standard Helvetica pair, so the file
needs no embedded font; text is encoded as cp1252 (WinAnsiEncoding).
"""

from __future__ import annotations

import hashlib
import textwrap

PAGE_W, PAGE_H, MARGIN = 612, 792, 60


def _escape(text: str) -> bytes:
    raw = text.encode("cp1252", errors="replace")
    return raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")


def layout(blocks: list[tuple[str, str]]) -> list[list[tuple[float, float, float, bool, str]]]:
    """Pages of ``(x, y, size, bold, text)`` from ``(kind, text)`` blocks: h1, h2, h3, p, li."""
    style = {
        "h1": (20, True, 0),
        "h2": (15, True, 0),
        "h3": (12.5, True, 0),
        "p": (10, False, 0),
        "li": (10, False, 14),
    }
    pages: list[list[tuple[float, float, float, bool, str]]] = [[]]
    y = PAGE_H - MARGIN
    for kind, text in blocks:
        size, bold, indent = style[kind]
        width = int((PAGE_W - 2 * MARGIN - indent - 12) / (size * 0.5))
        lines = textwrap.wrap(text, width) or [""]
        if kind == "li":
            lines = ["\u2022 " + lines[0], *lines[1:]]
        y -= size * 0.8 if kind.startswith("h") else 2
        for k, line in enumerate(lines):
            if y < MARGIN + size:
                pages.append([])
                y = PAGE_H - MARGIN
            x = MARGIN + indent + (10 if kind == "li" and k else 0)
            pages[-1].append((x, y, size, bold, line))
            y -= size * 1.35
        y -= size * 0.6
    return pages


def make_pdf(pages: list[list[tuple[float, float, float, bool, str]]], user_password: str | None = None) -> bytes:
    """A PDF of the given pages; with ``user_password`` it is encrypted (standard handler, needs that password)."""
    objects: list[bytes] = []

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    catalog = add(b"")  # filled below
    pages_obj = add(b"")
    regular = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    bold = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>")
    kids = []
    for page in pages:
        ops = []
        for x, y, size, is_bold, text in page:
            font = b"/F2" if is_bold else b"/F1"
            ops.append(b"BT %s %.1f Tf %.1f %.1f Td (%s) Tj ET" % (font, size, x, y, _escape(text)))
        stream = b"\n".join(ops)
        content = add(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
        kids.append(
            add(
                b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 %d %d] /Contents %d 0 R "
                b"/Resources << /Font << /F1 %d 0 R /F2 %d 0 R >> >> >>"
                % (pages_obj, PAGE_W, PAGE_H, content, regular, bold)
            )
        )
    objects[catalog - 1] = b"<< /Type /Catalog /Pages %d 0 R >>" % pages_obj
    objects[pages_obj - 1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (
        b" ".join(b"%d 0 R" % k for k in kids),
        len(kids),
    )
    trailer_extra = b""
    if user_password is not None:
        # Only the keys a reader checks before it asks for the password; with
        # any non-empty password, opening without one fails as it should.
        digest = hashlib.sha256(user_password.encode()).digest()
        enc = add(
            b"<< /Filter /Standard /V 1 /R 2 /O <%s> /U <%s> /P -44 >>" % (digest.hex().encode(), digest.hex().encode())
        )
        trailer_extra = b" /Encrypt %d 0 R /ID [<%s> <%s>]" % (
            enc,
            digest[:16].hex().encode(),
            digest[:16].hex().encode(),
        )
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for n, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (n, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root %d 0 R%s >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        catalog,
        trailer_extra,
        xref,
    )
    return bytes(out)


def image_only_pdf() -> bytes:
    """A 'scanned' page: one grey image, no text layer."""
    w = h = 8
    pixels = bytes([128]) * (w * h)
    body = (
        b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray /BitsPerComponent 8 /Length %d >>\nstream\n%s\nendstream"
        % (
            w,
            h,
            len(pixels),
            pixels,
        )
    )
    stream = b"q 400 0 0 400 100 200 cm /Im1 Do Q"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /XObject << /Im1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
        body,
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for n, obj in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (n, obj)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def guide_blocks(markdown_text: str) -> list[tuple[str, str]]:
    """``(kind, text)`` blocks from simple Markdown: '#' headings, '- ' items, paragraphs."""
    blocks = []
    for chunk in markdown_text.split("\n\n"):
        for line in chunk.strip().splitlines() if chunk.lstrip().startswith(("- ", "#")) else [chunk.strip()]:
            line = line.strip()
            if not line:
                continue
            if line.startswith("#"):
                level = min(len(line) - len(line.lstrip("#")), 3)
                blocks.append((f"h{level}", line.lstrip("#").strip()))
            elif line.startswith("- "):
                blocks.append(("li", line[2:]))
            else:
                blocks.append(("p", " ".join(line.split())))
    return blocks
