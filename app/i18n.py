"""Languages: zh-CN (the default) and en, through Flask-Babel.

How a page gets its language (:func:`select_locale`), first match wins:

1. ``?lang=en`` or ``?lang=zh_CN`` on any page: used, and remembered in the ``lang`` cookie
   (one year) so the next pages keep it; the header's language switch is two such links.
2. The ``lang`` cookie.
3. The ``Accept-Language`` header of the browser.
4. ``DEFAULT_LOCALE`` (``zh_CN``).

Using it in a template (every page that extends ``base.html`` gets these):

- ``{{ _("Shelters") }}``: a UI string; the msgid is English, the zh_CN catalog
  (``app/translations/zh_Hans_CN/LC_MESSAGES/messages.po``: Babel calls zh_CN "zh_Hans_CN" and
  looks for the catalog under that name) holds the Chinese. After adding strings
  run ``scripts/i18n.sh`` (extract, update, then fill the new msgstr, then compile) and commit
  both the .po and the .mo.
- ``{{ pick(obj) }}``: picks the name in the page's language from anything that carries
  ``name_zh``/``name_en`` (or ``title_zh``/``title_en``, or ``zh``/``en``), as a dict or an
  object, falling back to the other language; plan titles, incident types, stock items.
- ``{{ type_name("accident.fire") }}`` / ``{{ vocab_name("team_status", "en_route") }}``:
  incident types from :mod:`plans.taxonomy` and the layer vocabularies of :mod:`gis.enums`.
- ``{{ i18n_script({"key": _("Text"), ...}) }}``: writes
  ``<script type="application/json" id="i18n">`` with the page's JS strings; in JS
  ``OneMap.t("key")`` (``static/js/common.js``) reads them. ``lang`` and the vocabularies
  (``vocab``: ``{"team_status": {"en_route": "途中"}, ...}`` in the page's language) are
  always included, so JS can label types and statuses with ``OneMap.vocab("team_status", v)``.
- ``{{ lang_switch() }}``: the language switch for a page header (links keeping the query).
- ``current_locale()`` gives ``"zh_CN"`` or ``"en"``; ``html_lang()`` gives ``"zh-CN"``/``"en"``.

In Python (services stay language-free; views choose): :func:`pick`, :func:`locale_code`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from flask import Flask, current_app, g, request
from flask_babel import Babel, get_locale
from flask_babel import gettext as _
from markupsafe import Markup, escape

from gis import enums
from plans.taxonomy import INCIDENT_TYPES, LEVELS

LOGGER = logging.getLogger(__name__)

#: The languages OneMap speaks, as Babel locale codes.
LOCALES = ("zh_CN", "en")
#: The cookie that remembers a ``?lang=`` choice.
COOKIE = "lang"
COOKIE_MAX_AGE_S = 365 * 24 * 3600

#: Vocabularies the pages' JS may label (name -> {code: (zh, en)}).
VOCABULARIES: Mapping[str, Mapping[str, tuple[str, str]]] = {
    "team_type": enums.TEAM_TYPES,
    "team_status": enums.TEAM_STATUSES,
    "shelter_status": enums.SHELTER_STATUSES,
    "shelter_type": enums.SHELTER_TYPES,
    "hazard_type": enums.HAZARD_TYPES,
    "site_type": enums.SITE_TYPES,
    "risk_level": enums.RISK_LEVELS,
    "incident_status": enums.INCIDENT_STATUSES,
    "incident_level": LEVELS,
    "incident_type": {c: (t.name_zh, t.name_en) for c, t in INCIDENT_TYPES.items()},
    "role": {
        "admin": ("管理员", "Administrator"),
        "dispatcher": ("调度员", "Dispatcher"),
        "viewer": ("查看者", "Viewer"),
    },
}


def normalise(value: str | None) -> str | None:
    """``"en"``, ``"en-GB"``, ``"zh"``, ``"zh-CN"``, ``"zh_cn"`` -> a code of :data:`LOCALES`,
    or None when the value names neither language."""
    if not value:
        return None
    v = value.strip().replace("-", "_").lower()
    if v.startswith("zh"):
        return "zh_CN"
    if v.startswith("en"):
        return "en"
    return None


def select_locale() -> str:
    """The request's language (see the module docstring for the order)."""
    chosen = normalise(request.args.get("lang"))
    if chosen:
        g.lang_chosen = chosen
        return chosen
    cookie = normalise(request.cookies.get(COOKIE))
    if cookie:
        return cookie
    best = request.accept_languages.best_match(["zh-CN", "zh", "en"])
    return normalise(best) or current_app.config.get("DEFAULT_LOCALE", "zh_CN")


def locale_code() -> str:
    """The active locale as ``"zh_CN"`` or ``"en"`` (``"zh_CN"`` outside a request)."""
    try:
        locale = get_locale()
    except RuntimeError:
        return "zh_CN"
    return "en" if locale is not None and locale.language == "en" else "zh_CN"


def is_zh() -> bool:
    return locale_code().startswith("zh")


def pick(obj: Any, *, base: str = "name") -> str:
    """The name of ``obj`` in the active language, falling back to the other one.

    ``obj`` is a mapping or an object with ``<base>_zh``/``<base>_en`` (``name`` or ``title``),
    or ``zh``/``en``, or a ``(zh, en)`` pair; plain strings are returned as they are.
    """
    if obj is None:
        return ""
    if isinstance(obj, str):
        return obj
    if isinstance(obj, tuple) and len(obj) == 2:
        zh, en = obj
    else:
        zh, en = _pair(obj, base)
    first, second = (zh, en) if is_zh() else (en, zh)
    return str(first or second or "")


def _pair(obj: Any, base: str) -> tuple[Any, Any]:
    get = obj.get if isinstance(obj, Mapping) else lambda k: getattr(obj, k, None)
    for zh_key, en_key in ((f"{base}_zh", f"{base}_en"), ("title_zh", "title_en"), ("zh", "en")):
        zh, en = get(zh_key), get(en_key)
        if zh or en:
            return zh, en
    # Layers keep the local name in ``name`` and an English one in ``name_en``.
    return get(base), get(f"{base}_en")


def type_name(code: str | None) -> str:
    """An incident type's name in the active language (the code itself when unknown)."""
    if not code:
        return ""
    t = INCIDENT_TYPES.get(code)
    return pick((t.name_zh, t.name_en)) if t else code


def vocab_name(vocabulary: str, code: str | None) -> str:
    """A vocabulary value's label (``vocab_name("team_status", "en_route")``)."""
    if code is None:
        return ""
    pair = VOCABULARIES.get(vocabulary, {}).get(code)
    return pick(pair) if pair else code


def vocabularies() -> dict[str, dict[str, str]]:
    """All vocabularies labelled in the active language, for the pages' JS."""
    return {name: {k: pick(v) for k, v in voc.items()} for name, voc in VOCABULARIES.items()}


def i18n_script(strings: Mapping[str, str] | None = None) -> Markup:
    """``<script type="application/json" id="i18n">`` with ``strings`` (already translated with
    ``_()``), the language and the vocabularies; read in JS with ``OneMap.t(key)``."""
    body = {"lang": locale_code(), "strings": dict(strings or {}), "vocab": vocabularies()}
    text = json.dumps(body, ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e")
    return Markup(f'<script type="application/json" id="i18n">{text}</script>')


def lang_switch() -> Markup:
    """Links to this page in the other languages (the active one is marked, not linked)."""
    parts = []
    for code, label in (("zh_CN", "中文"), ("en", "EN")):
        if code == locale_code():
            parts.append(f'<b aria-current="true" lang="{html_lang(code)}">{label}</b>')
            continue
        args = request.args.to_dict()
        args["lang"] = code
        href = escape("?" + urlencode(args))
        parts.append(f'<a href="{href}" hreflang="{html_lang(code)}">{label}</a>')
    label = escape(_("Language"))
    return Markup(f'<nav class="lang" aria-label="{label}">{" ".join(parts)}</nav>')


def html_lang(code: str | None = None) -> str:
    """The BCP 47 tag of a locale, for ``<html lang>``."""
    return "zh-CN" if (code or locale_code()).startswith("zh") else "en"


def _remember_choice(response: Any) -> Any:
    chosen = g.get("lang_chosen")
    if chosen and request.cookies.get(COOKIE) != chosen:
        response.set_cookie(
            COOKIE, chosen, max_age=COOKIE_MAX_AGE_S, samesite="Lax", httponly=False
        )
    return response


def init_app(app: Flask) -> None:
    """Install Flask-Babel with :func:`select_locale` and the template helpers."""
    app.config.setdefault("BABEL_DEFAULT_LOCALE", app.config.get("DEFAULT_LOCALE", "zh_CN"))
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", "translations")
    Babel(app, locale_selector=select_locale)
    app.after_request(_remember_choice)
    app.jinja_env.globals.update(
        pick=pick,
        type_name=type_name,
        vocab_name=vocab_name,
        i18n_script=i18n_script,
        lang_switch=lang_switch,
        current_locale=locale_code,
        html_lang=html_lang,
    )
