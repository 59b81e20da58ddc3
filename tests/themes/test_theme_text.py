"""The text a theme is clustered on: boilerplate out, the complaint (sarcasm included) kept."""

from __future__ import annotations

from models.theme_text import topic_text


def test_greeting_request_address_and_sign_off_removed():
    got = topic_text("Здравствуйте! На ул. Мира д. 5 не горит фонарь. Прошу принять меры. Заранее спасибо!")
    assert got == "На не горит фонарь"
    assert topic_text("Добрый день. Яма на дороге, звонил 8 (4712) 55-12-34. С уважением, Иванов И.И.") == (
        "Яма на дороге, звонил"
    )


def test_complaint_words_stay():
    sarcasm = "Спасибо, Посылкин, что потеряли мою посылку. Третий раз уже"
    assert topic_text(sarcasm) == sarcasm  # thanks are dropped only as the last words
    assert topic_text("Курьер опоздал на 3 часа") == "Курьер опоздал на часа"
    assert topic_text("Здравствуйте!") == "Здравствуйте!"  # nothing but boilerplate: the original is kept
    assert topic_text(None) == ""
