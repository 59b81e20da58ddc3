"""crawlers.encoding: declared (header/meta) and undeclared cp1251 / koi8-r / UTF-8 pages."""

from __future__ import annotations

from crawlers.encoding import decode_html, detect_encoding, sniff_cyrillic

GOLDEN = "Посылкин опять потерял мою посылку, поддержка молчит уже неделю. Верните деньги!"
PAGE = f"<html><head><title>Жалоба</title></head><body><p>{GOLDEN}</p></body></html>"


def test_header_charset_wins():
    body = PAGE.encode("cp1251")
    assert decode_html(body, "text/html; charset=windows-1251")[0] == PAGE


def test_meta_charset_when_no_header():
    page = PAGE.replace("<head>", '<head><meta http-equiv="Content-Type" content="text/html; charset=koi8-r">')
    text, enc = decode_html(page.encode("koi8-r"), "text/html")
    assert enc == "koi8-r" and GOLDEN in text


def test_html5_meta_charset():
    page = PAGE.replace("<head>", '<head><meta charset="windows-1251">')
    assert GOLDEN in decode_html(page.encode("cp1251"))[0]


def test_undeclared_cp1251_is_sniffed():
    text, enc = decode_html(PAGE.encode("cp1251"), "text/html")
    assert enc == "cp1251" and text == PAGE


def test_undeclared_koi8r_is_sniffed():
    text, enc = decode_html(PAGE.encode("koi8-r"), None)
    assert enc == "koi8-r" and text == PAGE


def test_short_undeclared_texts_still_right():
    for s in ("Привет, как дела?", "Банк списал деньги дважды", "ёлки-палки, опять сбой"):
        assert sniff_cyrillic(s.encode("cp1251")) == "cp1251", s
        assert sniff_cyrillic(s.encode("koi8-r")) == "koi8-r", s


def test_utf8_undeclared_and_bom():
    assert decode_html(PAGE.encode("utf-8"))[0] == PAGE
    assert decode_html(b"\xef\xbb\xbf" + PAGE.encode("utf-8"))[0] == PAGE


def test_override_beats_wrong_declaration():
    wrong = PAGE.replace("<head>", '<head><meta charset="utf-8">').encode("cp1251")
    assert GOLDEN in decode_html(wrong, None, override="cp1251")[0]
    # an unknown override is ignored; the meta says utf-8 but the bytes are not: the sniff reads them right
    assert detect_encoding(wrong, None, "nonsense-charset") == "cp1251"
    assert GOLDEN in decode_html(wrong, None, "nonsense-charset")[0]


def test_undecodable_bytes_do_not_fail():
    text, _ = decode_html(b"<p>\xff\xfe\x00 broken</p>", "text/html; charset=utf-8")
    assert "broken" in text


def test_utf16_by_declaration_or_by_its_nul_bytes_and_a_wrong_utf16_label_ignored():
    for enc in ("utf-16-le", "utf-16-be"):
        body = PAGE.encode(enc)  # no BOM
        assert decode_html(body, "text/html; charset=utf-16")[0] == PAGE
        assert decode_html(body)[0] == PAGE
    # the label says UTF-16, but the bytes are plain UTF-8 markup (browsers ignore such a meta too)
    labelled = PAGE.replace("<head>", '<head><meta charset="utf-16">')
    assert decode_html(labelled.encode("utf-8"))[0] == labelled


def test_ascii_or_latin1_labels_over_cyrillic_bytes_give_way():
    for label in ("us-ascii", "ISO8859-1", "iso-8859-1", "latin1"):
        text, enc = decode_html(PAGE.encode("cp1251"), f"text/html; charset={label}")
        assert enc == "cp1251" and text == PAGE, label
    # a real Latin-1 page keeps its label: its accented letters stand alone among Latin ones
    fr = "<p>Le café était fermé, déçu.</p>"
    assert decode_html(fr.encode("latin-1"), "text/html; charset=ISO8859-1") == (fr, "iso8859-1")
