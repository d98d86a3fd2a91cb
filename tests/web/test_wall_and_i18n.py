"""The wall display page and the two languages (zh-CN, en)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from flask import render_template

from app import i18n

APP_DIR = Path(__file__).resolve().parents[2] / "app"
CATALOG = APP_DIR / "translations" / "zh_Hans_CN" / "LC_MESSAGES"


def _catalog():
    with (CATALOG / "messages.po").open("rb") as fh:
        return read_po(fh, locale="zh_CN")


def _login(client, tokens) -> None:  # tokens: the t-* users exist
    r = client.post("/login", data={"name": "t-viewer", "password": "password-123"})
    assert r.status_code == 302


def test_wall_needs_login_and_is_offline(client, tokens):
    r = client.get("/wall")
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    _login(client, tokens)
    r = client.get("/wall")
    assert r.status_code == 200
    page = r.get_data(as_text=True)
    for asset in ("/vendor/leaflet/leaflet.js", "/static/js/common.js", "/static/js/wall.js"):
        assert asset in page
    assert 'id="i18n"' in page and 'id="map-config"' in page
    assert "http://" not in page and "https://" not in page  # nothing from another host
    for path in ("/static/js/wall.js", "/static/js/common.js", "/static/css/wall.css"):
        with client.get(path) as asset:
            assert asset.status_code == 200


def test_lang_query_beats_accept_language_and_is_remembered(client):
    zh = client.get("/login", headers={"Accept-Language": "zh-CN,zh;q=0.9"}).get_data(True)
    assert "登录" in zh and 'lang="zh-CN"' in zh
    en = client.get("/login?lang=en", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    text = en.get_data(as_text=True)
    assert "Log in" in text and "登录" not in text and '<html lang="en">' in text
    assert "lang=en" in en.headers["Set-Cookie"]
    # the cookie keeps English on the next page without the query
    again = client.get("/login", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "User name" in again and "用户名" not in again
    back = client.get("/login?lang=zh_CN").get_data(as_text=True)
    assert "用户名" in back


def test_accept_language_and_default(client):
    en = client.get("/login", headers={"Accept-Language": "en-GB,en;q=0.8"}).get_data(True)
    assert "Password" in en and "密码" not in en
    plain = client.get("/login").get_data(as_text=True)  # no preference: zh_CN
    assert "密码" in plain


def test_js_strings_and_vocabularies_follow_the_language(client, tokens):
    _login(client, tokens)

    def block(lang: str) -> str:
        page = client.get(f"/wall?lang={lang}").get_data(as_text=True)
        return re.search(r'<script type="application/json" id="i18n">(.*?)</script>', page).group(1)

    zh, en = block("zh_CN"), block("en")
    assert '"lang": "zh_CN"' in zh and '"lang": "en"' in en
    assert "图例" in zh and '"legend": "Legend"' in en
    assert '"en_route": "途中"' in zh and '"en_route": "En route"' in en
    assert '"accident.fire": "火灾事故"' in zh and '"accident.fire": "Fire"' in en


def test_pick_and_type_names(app):
    plan = {"title_zh": "城市火灾应急预案", "title_en": "Urban fire plan"}
    with app.test_request_context("/?lang=en"):
        assert i18n.pick(plan) == "Urban fire plan"
        assert i18n.type_name("accident.fire") == "Fire"
        assert i18n.vocab_name("team_status", "on_scene") == "On scene"
        assert i18n.pick({"name": "Erottaja", "name_en": None}) == "Erottaja"  # fallback
    with app.test_request_context("/?lang=zh_CN"):
        assert i18n.pick(plan) == "城市火灾应急预案"
        assert i18n.type_name("accident.fire") == "火灾事故"
        assert i18n.type_name("not.a.type") == "not.a.type"
        assert i18n.pick({"name_zh": None, "name_en": "Blanket"}) == "Blanket"


def test_catalog_is_complete_and_compiled():
    catalog = _catalog()
    untranslated = [m.id for m in catalog if m.id and not m.string]
    assert untranslated == []
    assert not [m.id for m in catalog if m.id and m.fuzzy]
    with (CATALOG / "messages.mo").open("rb") as fh:
        compiled = {m.id: m.string for m in read_mo(fh) if m.id}
    assert compiled == {m.id: m.string for m in catalog if m.id}  # the .mo matches the .po


def test_every_string_in_the_code_is_in_the_catalog():
    method_map = [("**.py", "python"), ("templates/**.html", "jinja2")]
    found = {msg[2] for msg in extract_from_dir(str(APP_DIR), method_map)}
    found = {m if isinstance(m, str) else m[0] for m in found}
    known = {m.id for m in _catalog()}
    assert sorted(found - known) == []


@pytest.mark.parametrize("path", ["/login", "/", "/wall", "/r/not-a-token"])
def test_pages_have_no_untranslated_strings_in_zh(client, tokens, path):
    """Rendered in zh_CN, a page shows none of the catalog's English msgids it shows in en
    (its text, labels and the strings it hands to its JS)."""
    _login(client, tokens)
    msgids = [m.id for m in _catalog() if m.id and m.string != m.id and len(m.id) > 2]
    en = _visible(client.get(f"{path}?lang=en").get_data(as_text=True))
    zh = _visible(client.get(f"{path}?lang=zh_CN").get_data(as_text=True))
    shown_in_en = [m for m in msgids if _shows(en, m)]
    assert shown_in_en, "the English page shows catalog strings"
    assert [m for m in shown_in_en if _shows(zh, m)] == []


def _shows(text: str, msgid: str) -> bool:
    return re.search(r"(?<![\w-])" + re.escape(msgid) + r"(?![\w-])", text) is not None


def _visible(html: str) -> str:
    """What a user can read: text, labels and titles, and the values of the i18n JSON block."""
    parts = []
    block = re.search(r'<script type="application/json" id="i18n">(.*?)</script>', html, re.S)
    if block:
        doc = json.loads(block.group(1))
        parts += list(doc["strings"].values())
        parts += [v for voc in doc["vocab"].values() for v in voc.values()]
    html = re.sub(r"<script.*?</script>", " ", html, flags=re.S)
    parts += re.findall(r'(?:aria-label|title|placeholder|alt)="([^"]*)"', html)
    parts.append(re.sub(r"<[^>]+>", "\n", html))
    return "\n".join(parts)


def test_field_page_is_translated(app):
    view = {
        "id": 1,
        "team": {"name": "HKI-F01", "callsign": None, "status": "en_route"},
        "incident": {"id": 2, "type": "accident.fire", "title": None, "at": [24.94, 60.17]},
        "eta_s": 300.0,
        "distance_m": 1200.0,
        "route": None,
        "steps": [{"maneuver": "turn left", "name": "Mannerheimintie", "distance_m": 120.0}],
    }
    nav = dict.fromkeys(("geo", "amap", "baidu", "google", "osmand"), "#")
    with app.test_request_context("/r/x?lang=zh_CN"):
        zh = render_template("field.html", view=view, token="x", nav=nav)
    with app.test_request_context("/r/x?lang=en"):
        en = render_template("field.html", view=view, token="x", nav=nav)
    assert "左转" in zh and "火灾事故" in zh and "途中" in zh and "发送位置" in zh
    assert "Turn left" in en and "→ Fire" in en and "Send position" in en
    assert "左转" not in en
