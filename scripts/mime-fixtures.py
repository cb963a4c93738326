#!/usr/bin/env python3
"""Writes fixtures/mime/<case>.eml and <case>.expected: Internet messages in charsets other than
UTF-8, their bytes made by Python's codecs (not by umbox), and the text a client must read back
through EWS (CreateItem with MimeContent, then GetItem and GetAttachment).

Run from the repository root: python3 scripts/mime-fixtures.py. The files are committed; rerun
only to change a case.

The .expected format, one field a line, UTF-8:
  subject: <Subject>        from: <display name> <<address>>
  body: <text body, a line break written as \\n>
  attachment: <name>        (one line per attachment, in order)
  attachment-hex: <bytes>   (the content of the attachment named on the line before)
"""

import base64
import codecs
import quopri
from pathlib import Path
from urllib.parse import quote_from_bytes

OUT = Path("fixtures/mime")
CP1252_HIGH = "€‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ"  # every character of 0x80–0x9F


def word(text, charset, method="B", chunk=12):
    """RFC 2047 encoded words, `chunk` characters each, every word complete in itself."""
    words = []
    for start in range(0, len(text), chunk):
        raw = codecs.encode(text[start : start + chunk], charset)
        if method == "B":
            payload = base64.b64encode(raw).decode("ascii")
        else:
            payload = quopri.encodestring(raw, header=True).decode("ascii")
            payload = payload.replace("=\n", "").replace("?", "=3F")
        words.append(f"=?{charset}?{method}?{payload}?=")
    return "\r\n ".join(words)


def rfc2231(name, value, charset):
    """`name*=charset''%XX…` (RFC 2231 §4)."""
    encoded = quote_from_bytes(codecs.encode(value, charset), safe="")
    return f"{name}*={charset}''{encoded}"


def body(text, charset, transfer):
    raw = codecs.encode(text.replace("\n", "\r\n"), charset)
    if transfer == "base64":
        encoded = base64.encodebytes(raw).replace(b"\n", b"\r\n")
    elif transfer == "quoted-printable":
        encoded = quopri.encodestring(raw).replace(b"\n", b"\r\n")
    else:
        encoded = raw
    return encoded.rstrip(b"\r\n") + b"\r\n"


def message(headers, content):
    return "".join(f"{k}: {v}\r\n" for k, v in headers).encode("ascii") + b"\r\n" + content


def text_message(subject_header, from_header, text, charset, transfer):
    headers = [
        ("From", from_header),
        ("To", "alice@example.test"),
        ("Subject", subject_header),
        ("Date", "Thu, 03 Dec 2026 10:00:00 +0000"),
        ("MIME-Version", "1.0"),
        ("Content-Type", f'text/plain; charset="{charset}"'),
        ("Content-Transfer-Encoding", transfer),
    ]
    return message(headers, body(text, charset, transfer))


def expected(subject, sender, text, attachments=()):
    lines = [f"subject: {subject}", f"from: {sender[0]} <{sender[1]}>"]
    lines.append("body: " + text.replace("\n", "\\n"))
    for name, content in attachments:
        lines.append(f"attachment: {name}")
        if content is not None:
            lines.append(f"attachment-hex: {content.hex()}")
    return "\n".join(lines) + "\n"


def simple(case, charset, subject, sender, text, transfer, method="B", name_method="B"):
    eml = text_message(
        word(subject, charset, method),
        f"{word(sender[0], charset, name_method)} <{sender[1]}>",
        text,
        charset,
        transfer,
    )
    return case, eml, expected(subject, sender, text)


def cases():
    yield simple(
        "windows-1252",
        "windows-1252",
        "“Smart” quotes – €5 … ™ Œuvre",
        ("Žofia Šmíd", "zofia@example.test"),
        f"All of 0x80–0x9F: {CP1252_HIGH}\nSecond line • end",
        "quoted-printable",
        method="Q",
        name_method="Q",
    )
    yield simple(
        "iso-2022-jp",
        "iso-2022-jp",
        "会議のお知らせ：来週月曜日の打ち合わせ",
        ("山田 太郎", "yamada@example.test"),
        "山田です。\n来週の会議は午後三時からです。",
        "7bit",
    )
    yield simple(
        "shift_jis",
        "shift_jis",
        "見積書の送付について（ソフトウェア）",
        ("佐藤 表", "sato@example.test"),
        "ソフトウェアの見積書を送付します。\n表示と予定をご確認ください。",
        "base64",
    )
    yield simple(
        "gb2312",
        "gb2312",
        "关于下周会议的通知",
        ("王小明", "wang@example.test"),
        "请于周一上午十点参加会议。\n谢谢。",
        "8bit",
    )
    yield simple(
        "big5",
        "big5",
        "會議通知：請準時出席",
        ("許功蓋", "hsu@example.test"),
        "許先生您好，會議改到星期三。",
        "base64",
    )
    yield simple(
        "koi8-r",
        "koi8-r",
        "Привет, мир: ёжик в тумане",
        ("Иван Петров", "ivan@example.test"),
        "Съешь же ещё этих мягких французских булок, да выпей чаю.",
        "8bit",
        method="Q",
    )
    yield simple(
        "euc-kr",
        "euc-kr",
        "회의 안내: 다음 주 월요일",
        ("김철수", "kim@example.test"),
        "다음 주 월요일에 회의가 있습니다.\n감사합니다.",
        "quoted-printable",
    )
    # UTF-16 with a byte order mark (Python's "utf-16" writes one), characters beyond the BMP too.
    text = "Grüße aus Köln — 你好 — 🎉\nzweite Zeile"
    eml = text_message(
        word("Ünïcödé sixteen", "utf-8"),
        "Sixteen <sixteen@example.test>",
        text,
        "utf-16",
        "base64",
    )
    yield "utf-16", eml, expected("Ünïcödé sixteen", ("Sixteen", "sixteen@example.test"), text)

    # Attachment names: RFC 2231 in windows-1252 and in Shift_JIS, and an RFC 2047 word in a
    # GB2312 quoted name (as widespread clients write it). The windows-1252
    # text file keeps its own bytes.
    file_1252 = ("Prévisions €2026.txt", "Coût: 5 € – «ok»\r\n".encode("cp1252"))
    file_sjis = ("見積書_ソフトウェア_2026年度.pdf", b"%PDF-1.4\n\x80\x81\x82\xff\n%%EOF\n")
    file_gb = ("报告.txt", "报告正文\r\n".encode("gb2312"))
    boundary = "=_fixture_boundary"
    parts = [
        message(
            [("Content-Type", "text/plain; charset=us-ascii")],
            b"See the three attached files.\r\n",
        ),
        message(
            [
                ("Content-Type", "text/plain; charset=windows-1252"),
                (
                    "Content-Disposition",
                    "attachment;\r\n " + rfc2231("filename", file_1252[0], "windows-1252"),
                ),
                ("Content-Transfer-Encoding", "base64"),
            ],
            base64.encodebytes(file_1252[1]).replace(b"\n", b"\r\n"),
        ),
        message(
            [
                ("Content-Type", "application/pdf"),
                (
                    "Content-Disposition",
                    "attachment;\r\n " + rfc2231("filename", file_sjis[0], "shift_jis"),
                ),
                ("Content-Transfer-Encoding", "base64"),
            ],
            base64.encodebytes(file_sjis[1]).replace(b"\n", b"\r\n"),
        ),
        message(
            [
                ("Content-Type", f'text/plain; charset=gb2312; name="{word(file_gb[0], "gb2312")}"'),
                ("Content-Disposition", "attachment"),
                ("Content-Transfer-Encoding", "base64"),
            ],
            base64.encodebytes(file_gb[1]).replace(b"\n", b"\r\n"),
        ),
    ]
    content = b"".join(f"--{boundary}\r\n".encode() + p + b"\r\n" for p in parts)
    content = content + f"--{boundary}--\r\n".encode()
    eml = message(
        [
            ("From", "Files <files@example.test>"),
            ("To", "alice@example.test"),
            ("Subject", "Attachment names"),
            ("Date", "Thu, 03 Dec 2026 10:00:00 +0000"),
            ("MIME-Version", "1.0"),
            ("Content-Type", f'multipart/mixed; boundary="{boundary}"'),
        ],
        content,
    )
    yield "rfc2231-names", eml, expected(
        "Attachment names",
        ("Files", "files@example.test"),
        "See the three attached files.",
        [file_1252, file_sjis, file_gb],
    )


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    for case, eml, text in cases():
        (OUT / f"{case}.eml").write_bytes(eml)
        (OUT / f"{case}.expected").write_text(text, encoding="utf-8")
        print(f"wrote {OUT}/{case}.eml")


if __name__ == "__main__":
    main()
