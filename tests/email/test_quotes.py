"""New text without quoted history and signatures, as mail clients write them."""
from __future__ import annotations

import pytest

from collectors.email.quotes import new_text

CASES = [
    ("Thanks, that works!\n\nOn Mon, 3 Jun 2024 at 10:00, Acme Support <support@acme.test> wrote:\n> Try again.\n",
     "Thanks, that works!"),
    ("Danke!\n\nAm 03.06.2024 um 10:00 schrieb Acme Support <support@acme.test>:\n> Bitte.\n", "Danke!"),
    ("Merci.\n\nLe lun. 3 juin 2024 à 10:00, Acme <support@acme.test> a écrit :\n> Bonjour\n", "Merci."),
    ("Still broken.\n\nOn Mon, 3 Jun 2024 at 10:00, Acme Support\n<support@acme.test> wrote:\n> Try again.\n",
     "Still broken."),  # Gmail wraps long attribution lines
    ("Please call me.\n\n-----Original Message-----\nFrom: Acme\nSent: Monday\nTo: me\nSubject: x\n\nold",
     "Please call me."),
    ("See below.\n\n________________________________\nFrom: Acme Support\nSent: Monday, 3 June 2024\n"
     "To: Carla\nSubject: Re: order\n\nold text", "See below."),
    ("Yes.\n\n-- \nCarla Customer\n+44 20 7946 0000", "Yes."),
    ("On my way.\n\nSent from my iPhone", "On my way."),
    ("> quoted first\nmy answer in between\n> more quote\nand another", "my answer in between\nand another"),
]


@pytest.mark.parametrize("text, expected", CASES)
def test_new_text(text, expected):
    assert new_text(text) == expected


def test_a_bare_forward_keeps_its_text():
    text = "-----Original Message-----\nFrom: someone\nSent: Monday\nTo: us\n\nThe real content"
    assert new_text(text) == text


def test_ordinary_text_is_untouched():
    text = "Hello,\n\nmy order from 3 June has not arrived.\nFrom: my kitchen, with love.\n\nCarla"
    assert new_text(text) == text
