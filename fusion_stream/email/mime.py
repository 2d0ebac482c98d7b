"""Build the raw MIME message SES sends: HTML with a text alternative, attachments, headers."""

from __future__ import annotations

import email.policy
import mimetypes
import re
from collections.abc import Sequence
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path

# 7-bit only: SES may rewrite a message (open/click tracking) and then does not keep 8-bit
# content, so every non-ASCII body is quoted-printable or base64 and every header is encoded
# (https://docs.aws.amazon.com/ses/latest/APIReference/API_SendRawEmail.html). The SMTP
# policy also keeps lines under 1,000 characters with CRLF line ends.
POLICY = email.policy.SMTP.clone(cte_type="7bit")

#: S3's defaults for "no type given": the file name's extension says more
GENERIC_TYPES = frozenset({"", "binary/octet-stream", "application/octet-stream"})

_BLOCKS = frozenset(
    "address article aside blockquote div dl dt dd fieldset figure footer form h1 h2 h3 h4 h5 h6 "
    "header hr li main nav ol p pre section table tbody thead tfoot tr ul".split()
)
_SKIPPED = frozenset({"head", "script", "style", "title", "template"})


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file to attach, already on local disk.

    :param content_type: ``type/subtype``; see ``content_type_for``
    """

    filename: str
    content_type: str
    path: Path


def content_type_for(filename: str, declared: str | None = None) -> str:
    """The declared type unless it is a generic default, else a guess from the extension."""
    value = (declared or "").split(";")[0].strip().lower()
    if value not in GENERIC_TYPES and "/" in value:
        return value
    guessed, _ = mimetypes.guess_type(filename, strict=False)
    return guessed or "application/octet-stream"


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self._skip = 0
        self._links: list[str | None] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED:
            self._skip += 1
        elif tag == "br":
            self.out.append("\n")
        elif tag in _BLOCKS:
            self.out.append("\n\n" if tag in {"p", "div", "table", "h1", "h2", "h3"} else "\n")
            if tag == "li":
                self.out.append("- ")
        if tag in {"td", "th"}:
            self.out.append(" ")
        if tag == "a":
            self._links.append(dict(attrs).get("href"))

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED:
            self._skip = max(0, self._skip - 1)
        elif tag in _BLOCKS and tag != "li":
            self.out.append("\n")
        elif tag == "a" and self._links:
            href = self._links.pop()
            if href and href.startswith(("http://", "https://")) and not self._ends_with(href):
                self.out.append(f" ({href})")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.out.append(re.sub(r"\s+", " ", data))

    def _ends_with(self, text: str) -> bool:
        return "".join(self.out[-3:]).rstrip().endswith(text)


def html_to_text(html: str) -> str:
    """A readable plain-text alternative of an HTML body (blocks become lines, links shown)."""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    lines = [line.strip() for line in "".join(parser.out).splitlines()]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    return text + "\n" if text else ""


def one_line(value: str) -> str:
    """Header text on one line: CR/LF would be refused (or be a header injection)."""
    return " ".join(value.split())


def build_message(
    *,
    sender: str,
    sender_name: str | None,
    to: Sequence[str],
    cc: Sequence[str] = (),
    reply_to: Sequence[str] = (),
    subject: str,
    html: str,
    attachments: Sequence[Attachment] = (),
) -> bytes:
    """The raw message: ``multipart/alternative`` (text, HTML), inside ``multipart/mixed``
    when there are attachments.

    Bcc recipients never appear in the headers: SES gets them as envelope destinations only.
    Non-ASCII names, subjects and file names are encoded (RFC 2047 words, RFC 2231 params).
    """
    msg = EmailMessage(policy=POLICY)
    msg["From"] = Address(display_name=one_line(sender_name or ""), addr_spec=sender)
    if to:
        msg["To"] = ", ".join(to)
    if cc:
        msg["Cc"] = ", ".join(cc)
    if reply_to:
        msg["Reply-To"] = ", ".join(reply_to)
    msg["Subject"] = one_line(subject)
    msg.set_content(html_to_text(html) or " ", subtype="plain", charset="utf-8")
    msg.add_alternative(html, subtype="html", charset="utf-8")
    for item in attachments:
        maintype, _, subtype = item.content_type.partition("/")
        msg.add_attachment(
            item.path.read_bytes(),
            maintype=maintype,
            subtype=subtype or "octet-stream",
            filename=item.filename,
        )
        *_, part = msg.iter_attachments()
        # The old ``name`` parameter too: some clients read only that one.
        part.set_param("name", item.filename)
    for part in msg.walk():
        if part is not msg:  # the stdlib adds MIME-Version to the parts it creates
            del part["MIME-Version"]
    return msg.as_bytes()
