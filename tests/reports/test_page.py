"""The reports page through the real app: roles, filters in the URL, SVG
charts, CSV downloads with the same filters (SQLite and PostgreSQL)."""
from __future__ import annotations

import pytest

from tests.reports.conftest import at
from tests.webui.conftest import Client, web_config
from webui.app import create_app


@pytest.fixture
def app(db_url):
    app = create_app(web_config(db_url))
    yield app
    app.extensions["replydesk"].engine.dispose()


@pytest.fixture
def scenario(desk):
    x = desk.account("acme-x", "x")
    ada = desk.agent("Ada <b>Lovelace</b>")
    desk.customer(x, at(0), "t1", author="c1")
    desk.assign("t1", ada)
    desk.reply("t1", ada, at(12))
    desk.customer(x, at(30), "t2", author="c2")
    return ada


def signed_in(app, make_user, role: str) -> Client:
    make_user(f"{role}@example.com", role, role.title())
    c = Client(app)
    assert c.login(f"{role}@example.com").status_code == 302
    return c


def test_managers_see_figures_charts_and_tables(app, make_user, scenario):
    page = signed_in(app, make_user, "manager").get("/reports/?since=2026-11-02&until=2026-11-03")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert '<span class="value">50.0 %</span>' in html  # t2 still awaits a reply
    assert html.count('<svg class="chart" role="img"') == 4
    assert "<desc id=" in html and "customer messages: from 2 to 0, highest 2 on 2026-11-02" in html
    assert "Ada &lt;b&gt;Lovelace&lt;/b&gt;" in html and "<b>Lovelace</b>" not in html
    assert 'href="/reports/by_agent.csv?since=2026-11-02&amp;until=2026-11-03"' in html


def test_agents_may_not(app, make_user, scenario):
    assert signed_in(app, make_user, "agent").get("/reports/").status_code == 403


def test_csv_download_keeps_the_filters(app, make_user, scenario):
    c = signed_in(app, make_user, "admin")
    resp = c.get(f"/reports/by_agent.csv?since=2026-11-02&until=2026-11-02&agent={scenario.id}")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    assert resp.headers["Content-Disposition"] == 'attachment; filename="replydesk-by_agent-2026-11-02-2026-11-02.csv"'
    lines = resp.get_data(as_text=True).splitlines()
    assert lines[0].startswith("agent,conversations,unanswered,unanswered_rate,first_response_median_s")
    assert lines[1:] == ["Ada <b>Lovelace</b>,1,0,0.0,720,720,720,720,,,1,1,1,0,0,0"]
    assert c.get("/reports/nothing.csv").status_code == 404


def test_a_bad_date_is_explained(app, make_user, scenario):
    resp = signed_in(app, make_user, "manager").get("/reports/?since=yesterday")
    assert resp.status_code == 400
    assert "since must be a date like 2026-11-01, not &#39;yesterday&#39;." in resp.get_data(as_text=True)
