"""Every page needs a login, every POST a CSRF token, roles hold, sign-in is
rate limited across processes, cookies and headers are safe, secrets and
customer markup never come back as live HTML."""
from __future__ import annotations

from html.parser import HTMLParser

import pytest
from werkzeug.routing import IntegerConverter

from inbox.config import AccountConfig
from tests.webui.conftest import Client, csrf_of, tweet, web_config
from webui.app import create_app
from webui.auth import PUBLIC

SKIP_METHODS = {"HEAD", "OPTIONS"}


def routes(app):
    """(method, url) for every rule, path arguments filled with 1."""
    out = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint in PUBLIC:
            continue
        args = {name: 1 if isinstance(conv, IntegerConverter) else "x" for name, conv in rule._converters.items()}
        url = app.url_map.bind("localhost").build(rule.endpoint, args)
        for method in sorted(rule.methods - SKIP_METHODS):
            out.append((method, url))
    return out


def test_every_route_needs_a_login(app):
    anonymous = app.test_client()
    token = csrf_of(anonymous.get("/login").get_data(as_text=True))
    checked = 0
    for method, url in routes(app):
        resp = anonymous.open(url, method=method, data={"csrf_token": token})
        assert resp.status_code in (302, 401), (method, url, resp.status_code)
        if resp.status_code == 302:
            assert "/login" in resp.headers["Location"], (method, url)
        checked += 1
    assert checked > 20


def test_every_post_needs_csrf(app, make_user):
    make_user("admin@example.com", "admin", "Ann Admin")
    c = Client(app)
    c.login("admin@example.com")
    posts = [url for method, url in routes(app) if method == "POST"] + ["/login"]
    assert len(posts) > 15
    for url in posts:
        resp = c.http.post(url, data={"text": "x", "status": "closed"})
        assert resp.status_code == 400, (url, resp.status_code)
        assert "Form expired" in resp.get_data(as_text=True)


@pytest.mark.parametrize("role, admin_ok", [("agent", False), ("manager", False), ("admin", True)])
def test_roles(app, make_user, role, admin_ok):
    make_user(f"{role}@example.com", role, role.title())
    c = Client(app)
    c.login(f"{role}@example.com")
    for url in ("/admin/accounts", "/admin/users", "/admin/canned", "/admin/audit"):
        assert c.get(url).status_code == (200 if admin_ok else 403), url
    assert c.post("/admin/users", {"email": "x@example.com", "password": "long enough pw", "role": "admin"}
                  ).status_code == (302 if admin_ok else 403)
    assert c.get("/").status_code == 200
    if "reports" in app.blueprints:
        assert c.get("/reports/").status_code in ((200,) if role != "agent" else (403,))


def test_sign_in_failures_are_limited_across_processes(db_url, agent):
    first = create_app(web_config(db_url))
    second = create_app(web_config(db_url))  # another web process, same database
    c = Client(first)
    for _ in range(5):
        assert c.login("agent@example.com", "wrong password!").status_code == 401
    resp = c.login("agent@example.com")
    assert resp.status_code == 429 and "Too many failed sign-ins" in resp.get_data(as_text=True)
    assert Client(second).login("agent@example.com").status_code == 429
    assert Client(second).login("someone-else@example.com", "whatever it is").status_code == 401
    for a in (first, second):
        a.extensions["replydesk"].engine.dispose()


def test_user_changes_take_effect_despite_the_users_cache(db_url, factory, make_user, monkeypatch):
    """Each process keeps signed-in users for USER_FRESH_SECONDS: a change
    made through this process holds at once, one made elsewhere (another web
    process, the command line) within that time."""
    import time

    from sqlalchemy import update

    import webui.auth
    from inbox.models import User

    monkeypatch.setattr(webui.auth, "USER_FRESH_SECONDS", 0.5)
    one, other = create_app(web_config(db_url)), create_app(web_config(db_url))  # two web processes
    try:
        make_user("admin@example.com", "admin", "Ann Admin")
        agent = make_user("agent@example.com", "agent", "Ada Agent")
        admin, ada, ada_elsewhere = Client(one), Client(one), Client(other)
        for c, email in ((admin, "admin@example.com"), (ada, "agent@example.com"), (ada_elsewhere, "agent@example.com")):
            assert c.login(email).status_code == 302
        assert ada.get("/reports/").status_code == 403
        admin.post(f"/admin/users/{agent.id}/role", {"role": "manager"})
        assert ada.get("/reports/").status_code == 200  # this process: at once
        admin.post(f"/admin/users/{agent.id}/active", {"active": "0"})
        assert ada.get("/").status_code == 302  # signed out at once
        time.sleep(0.6)
        assert ada_elsewhere.get("/").status_code == 302  # the other process: within USER_FRESH_SECONDS

        with factory.begin() as s:  # changed outside any web process
            s.execute(update(User).where(User.id == agent.id).values(active=True, role="agent"))
        time.sleep(0.6)
        assert ada_elsewhere.get("/reports/").status_code == 403  # active again, an agent again
        with factory.begin() as s:
            s.execute(update(User).where(User.id == agent.id).values(active=False))
        time.sleep(0.6)
        assert ada_elsewhere.get("/").status_code == 302
    finally:
        one.extensions["replydesk"].engine.dispose()
        other.extensions["replydesk"].engine.dispose()


def test_logout_is_a_post(client):
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 302
    assert client.get("/").status_code == 302


def test_open_redirect_refused(app, agent):
    c = Client(app)
    page = c.get("/login").get_data(as_text=True)
    resp = c.http.post("/login", data={"email": "agent@example.com", "password": "correct horse battery",
                                       "next": "//evil.example/", "csrf_token": csrf_of(page)})
    assert resp.headers["Location"] == "/"


def test_cookies_and_headers(db_url, agent):
    app = create_app(web_config(db_url, secure_cookies=True))
    c = Client(app)
    page = c.get("/login")
    cookie = page.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert page.headers["X-Frame-Options"] == "DENY"
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert "<script>" not in page.get_data(as_text=True)  # no inline script: the CSP would block it
    app.extensions["replydesk"].engine.dispose()


def test_account_secrets_are_never_shown(db_url, make_user, make_account):
    from inbox.config import parse

    make_user("admin@example.com", "admin", "Ann Admin")
    make_account("support", "email")
    cfg = parse(web_config(db_url), "test.toml", {}, env={})
    cfg.accounts.append(AccountConfig("support", "email", True, None,
                                      {"password": "s3cret-imap-pass", "host": "imap.example.com"}))
    app = create_app(cfg)
    c = Client(app)
    c.login("admin@example.com")
    for url in ("/admin/accounts", "/", "/admin/users"):
        html = c.get(url).get_data(as_text=True)
        assert "s3cret-imap-pass" not in html
    assert "support" in c.get("/admin/accounts").get_data(as_text=True)
    app.extensions["replydesk"].engine.dispose()


PAYLOADS = [
    '<script>window.pwned=1</script>',
    '<img src=x onerror="window.pwned=1">',
    '<a href="javascript:window.pwned=1">click</a>',
    '<svg onload="window.pwned=1"><circle r=1></svg>',
    '"><iframe src="javascript:alert(1)">',
]


class Tags(HTMLParser):
    """Every element and attribute the browser would build from a page."""

    def __init__(self, html: str):
        super().__init__()
        self.found: list[tuple[str, dict]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, {k: v or "" for k, v in attrs}))


def assert_inert(html: str, where: str) -> None:
    for tag, attrs in Tags(html).found:
        assert tag not in ("img", "svg", "iframe", "object", "embed", "style"), (where, tag, attrs)
        if tag == "script":
            assert attrs.get("src", "").startswith("/static/"), (where, attrs)
        for name, value in attrs.items():
            assert not name.startswith("on"), (where, tag, name)
            if name in ("href", "src", "action", "formaction"):
                assert not value.strip().lower().startswith(("javascript:", "data:", "vbscript:")), (where, tag, value)


def test_customer_markup_is_inert_in_html(client, make_account, ingest):
    acc = make_account("acme-x", "x")
    email = make_account("support", "email")
    ingest(acc, [tweet(f"x{i}", p, i, author_name=f"<b onmouseover=alert(1)>N{i}</b>",
                       permalink="javascript:alert(1)") for i, p in enumerate(PAYLOADS)])
    ingest(email, [tweet("e1", "see html", 9, html="<p>fine</p>" + "".join(PAYLOADS), subject="<script>s</script>")])
    pages = ["/", "/?status=any", "/?q=pwned&status=any"] + [f"/c/{n}" for n in range(1, len(PAYLOADS) + 2)]
    for url in pages:
        resp = client.get(url)
        assert resp.status_code == 200, url
        assert_inert(resp.get_data(as_text=True), url)
    assert "<p>fine</p>" in client.get(f"/c/{len(PAYLOADS) + 1}").get_data(as_text=True)


def test_every_route_of_a_missing_conversation_is_a_clean_404(client):
    """No view turns a bad id into a server error."""
    for method, url in routes(client.app):
        if "/c/1" not in url:
            continue
        resp = client.http.open(url, method=method, data={"csrf_token": client.token, "text": "hi", "key": "k"})
        assert resp.status_code in (204, 302, 404), (method, url, resp.status_code)
