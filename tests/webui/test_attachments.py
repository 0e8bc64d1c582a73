"""Attachments: downloadable, inline images shown from our own URL only,
nothing a customer sent can run on our origin."""
from __future__ import annotations

from sqlalchemy import select

from inbox.channel import Attachment, InboundItem
from inbox.models import Attachment as AttachmentRow
from tests.webui.conftest import T0

HTML = ('<p>See the photo:</p><img src="cid:photo1@mail" alt="kettle">'
        '<img src="https://tracker.example/pixel.gif?u=1"><img src="cid:unknown@mail">')


def test_attachments_download_and_inline_images(client, factory, make_account, ingest):
    acc = make_account("support", "email")
    [conv] = ingest(acc, [InboundItem(
        external_id="m1@mail", created_at=T0, text="See the photo", html=HTML, author_id="ann@example.com",
        subject="Broken kettle", attachments=[
            Attachment("kettle.png", "image/png", 8, b"\x89PNG\r\n\x1a\n", content_id="photo1@mail"),
            Attachment("invoice.html", "text/html", 31, b"<script>alert(1)</script>hello"),
            Attachment("video.mp4", "video/mp4", 50_000_000, None, truncated=True)])])
    with factory() as s:
        ids = {a.filename: a.id for a in s.scalars(select(AttachmentRow))}

    page = client.get(f"/c/{conv}").get_data(as_text=True)
    assert f'<img src="/c/attachments/{ids["kettle.png"]}" alt="kettle">' in page
    assert "tracker.example" not in page  # remote images are dropped, not just blocked
    assert "cid:unknown" not in page
    assert f'href="/c/attachments/{ids["invoice.html"]}"' in page
    assert f'href="/c/attachments/{ids["video.mp4"]}"' not in page and "too large to keep" in page

    png = client.get(f"/c/attachments/{ids['kettle.png']}")
    assert png.status_code == 200 and png.mimetype == "image/png" and png.data == b"\x89PNG\r\n\x1a\n"
    html = client.get(f"/c/attachments/{ids['invoice.html']}")
    assert html.status_code == 200 and html.mimetype == "application/octet-stream"
    assert html.headers["Content-Disposition"].startswith("attachment")
    assert html.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in html.headers["Content-Security-Policy"]
    assert client.get(f"/c/attachments/{ids['video.mp4']}").status_code == 410
    assert client.get("/c/attachments/999999").status_code == 404


def test_attachments_need_a_login(app, factory, make_account, ingest):
    from tests.webui.conftest import Client

    acc = make_account("support", "email")
    ingest(acc, [InboundItem(external_id="m1@mail", created_at=T0, text="x", author_id="ann@example.com",
                             attachments=[Attachment("a.txt", "text/plain", 1, b"a")])])
    with factory() as s:
        att = s.scalar(select(AttachmentRow.id))
    resp = Client(app).get(f"/c/attachments/{att}")
    assert resp.status_code in (302, 401) and b"a" != resp.data
