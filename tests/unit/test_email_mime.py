"""MIME building: headers, Bcc kept out, text alternative, attachments and encoded file names."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from fusion_stream.email.mime import (
    Attachment,
    build_message,
    content_type_for,
    html_to_text,
)


def parse(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def build(**kw: object) -> bytes:
    args: dict[str, object] = {
        "sender": "noreply@clinic.com",
        "sender_name": "City Clinic",
        "to": ["pat@x.com"],
        "subject": "Your appointment",
        "html": "<p>See you <b>tomorrow</b></p>",
    }
    args.update(kw)
    return build_message(**args)  # type: ignore[arg-type]


def test_headers_from_with_name_to_cc_reply_to_and_no_bcc() -> None:
    raw = build(cc=["cc1@x.com", "cc2@y.com"], reply_to=["desk@clinic.com"])
    message = parse(raw)
    assert message["From"] == "City Clinic <noreply@clinic.com>"
    assert message["To"] == "pat@x.com"
    assert message["Cc"] == "cc1@x.com, cc2@y.com"
    assert message["Reply-To"] == "desk@clinic.com"
    assert message["Subject"] == "Your appointment"
    assert message["Bcc"] is None and b"bcc" not in raw.lower()
    assert message["MIME-Version"] == "1.0"


def test_html_with_a_generated_text_alternative() -> None:
    message = parse(build())
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    assert text.get_content().strip() == "See you tomorrow"
    assert html.get_content().strip() == "<p>See you <b>tomorrow</b></p>"
    # only the top level carries MIME-Version (the stdlib would add it to parts too)
    assert [p for p in message.walk() if p["MIME-Version"]] == [message]


def test_non_ascii_names_and_subject_are_encoded_and_7bit() -> None:
    raw = build(sender_name="Clínica Ñandú", subject="Résultats ✓", html="<p>Ça va ?</p>")
    assert raw.isascii()  # SES does not keep 8-bit content when it rewrites for tracking
    assert max(len(line) for line in raw.splitlines()) <= 998
    message = parse(raw)
    assert message["From"].addresses[0].display_name == "Clínica Ñandú"
    assert message["Subject"] == "Résultats ✓"
    body = message.get_body(("html",))
    assert body is not None and "Ça va ?" in body.get_content()


def test_header_injection_is_flattened() -> None:
    message = parse(build(subject="Hi\r\nBcc: evil@x.com", sender_name="A\nB"))
    assert message["Subject"] == "Hi Bcc: evil@x.com"
    assert message["Bcc"] is None
    assert message["From"] == "A B <noreply@clinic.com>"


def test_long_html_lines_are_wrapped_by_the_transfer_encoding() -> None:
    raw = build(html="<p>" + "x" * 5000 + "</p>")
    assert max(len(line) for line in raw.splitlines()) <= 998
    body = parse(raw).get_body(("html",))
    assert body is not None and body.get_content().count("x") == 5000


def test_attachments_keep_bytes_type_and_non_ascii_names(tmp_path: Path) -> None:
    pdf, csv = tmp_path / "0", tmp_path / "1"
    pdf.write_bytes(b"%PDF-1.4\x00\xff\x10binary")
    csv.write_bytes("name,city\nJosé,Zürich\n".encode())
    raw = build(
        attachments=[
            Attachment("résumé médical ✓.pdf", "application/pdf", pdf),
            Attachment("list.csv", "text/csv", csv),
        ]
    )
    assert raw.isascii()
    assert b"filename*=utf-8''r%C3%A9sum%C3%A9" in raw  # RFC 2231
    message = parse(raw)
    assert message.get_content_type() == "multipart/mixed"
    parts = list(message.iter_attachments())
    assert [p.get_filename() for p in parts] == ["résumé médical ✓.pdf", "list.csv"]
    assert [p.get_content_type() for p in parts] == ["application/pdf", "text/csv"]
    assert parts[0].get_payload(decode=True) == pdf.read_bytes()
    assert parts[1].get_payload(decode=True) == csv.read_bytes()
    assert parts[0].get_param("name") == "résumé médical ✓.pdf"  # for older clients
    body = message.get_body(("html", "plain"))
    assert body is not None and body.get_content_type() == "text/html"


def test_no_to_header_when_only_bcc() -> None:
    message = parse(build(to=[]))
    assert message["To"] is None


@pytest.mark.parametrize(
    ("filename", "declared", "expected"),
    [
        ("a.pdf", "application/pdf", "application/pdf"),
        ("a.pdf", "binary/octet-stream", "application/pdf"),  # S3's default: guess instead
        ("a.pdf", None, "application/pdf"),
        ("photo.JPG", "", "image/jpeg"),
        ("a.csv", "application/octet-stream", "text/csv"),
        ("noext", None, "application/octet-stream"),
        ("a.bin", "image/png; charset=x", "image/png"),  # the declared type wins
    ],
)
def test_content_type_for(filename: str, declared: str | None, expected: str) -> None:
    assert content_type_for(filename, declared) == expected


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("<h1>Title</h1><p>One<br>Two</p>", "Title\n\nOne\nTwo\n"),
        ("<ul><li>a</li><li>b</li></ul>", "- a\n- b\n"),
        ("<p>Fish &amp; chips &lt;3</p>", "Fish & chips <3\n"),
        ("<style>p {color: red}</style><script>x()</script><p>Shown</p>", "Shown\n"),
        ('<p>Go <a href="https://x.com/a">here</a></p>', "Go here (https://x.com/a)\n"),
        ('<a href="https://x.com">https://x.com</a>', "https://x.com\n"),
        ("<table><tr><td>1</td><td>2</td></tr></table>", "1 2\n"),
        ("plain   text\n\n\n\nmore", "plain text more\n"),
        ("", ""),
    ],
)
def test_html_to_text(html: str, text: str) -> None:
    assert html_to_text(html) == text
