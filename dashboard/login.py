"""Server-rendered account pages (sign in, second factor, change password, sign out, notices).

Plain HTML forms with no script and no external resource, every value escaped with
markupsafe; Simplified Chinese by default, English with ``lang=en``. The routes are in
``api/auth.py``; this module only renders.
"""

from __future__ import annotations

from markupsafe import Markup

from dashboard.layout import TITLE
from gridcmd.i18n import normalise_lang, t

__all__ = ["account_page", "login_page", "message_page", "password_page", "totp_page"]

# msgids (translations in gridcmd/locale/*/messages.po)
SIGN_IN = "Sign in"
USERNAME = "Username"
PASSWORD = "Password"  # noqa: S105 (a msgid)
LOGIN_FAILED = "Wrong username or password, or the account is temporarily locked."
FORM_EXPIRED = "The form has expired; please try again."
CHANGE_PASSWORD = "Change password"  # noqa: S105 (a msgid)
CURRENT_PASSWORD = "Current password"  # noqa: S105 (a msgid)
NEW_PASSWORD = "New password"  # noqa: S105 (a msgid)
REPEAT_PASSWORD = "Repeat the new password"  # noqa: S105 (a msgid)
PASSWORDS_DIFFER = "The two new passwords differ."
WRONG_CURRENT = "The current password is wrong."
LOCKED_SIGNED_OUT = (
    "Too many wrong passwords: the account is temporarily locked and you have been signed out. "
    "Sign in again later."
)
MUST_CHANGE = "You must choose a new password before continuing."
PASSWORD_CHANGED = "Password changed."  # noqa: S105 (a msgid)
POLICY_TEXT = (
    "At least 10 characters, mixing at least 3 of: lower-case, upper-case, digits, symbols; "
    "not containing the username."
)
SIGN_OUT = "Sign out"
SIGN_OUT_QUESTION = "Sign out of Grid Command?"
BACK_TO_MAP = "Back to the map"
WORKER_ONLY_API = (
    "This account is for the grid workers' mobile app; the command dashboard is not available "
    "to it."
)
DB_DOWN = "The database is unavailable; try again in a moment."
SECOND_FACTOR = "Verification code"
SECOND_FACTOR_HINT = "Enter the 6-digit code from your authenticator app."
WRONG_CODE = "Wrong or expired code."
VERIFY = "Verify"
TOTP_TITLE = "Two-factor authentication"
TOTP_ENROL_HINT = (
    "Add this key to an authenticator app (manual entry, or open the otpauth link on the "
    "phone), then enter the code it shows to confirm."
)
TOTP_KEY = "Key"
TOTP_ENABLED = "Two-factor authentication is on for this account."
TOTP_REQUIRED = "Your role requires two-factor authentication: set it up to continue."
SIGNED_IN_AS = "Signed in as {name}"

_STYLE = """
body{font-family:system-ui,"Noto Sans CJK SC","Microsoft YaHei",sans-serif;background:#eef2f6;
margin:0;color:#1f2933}
main{max-width:380px;margin:8vh auto;background:#fff;border-radius:8px;padding:28px 32px;
box-shadow:0 2px 10px rgba(0,0,0,.12)}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;font-weight:500;margin:0 0 18px;color:#52606d}
label{display:block;margin:12px 0 4px;font-size:14px}
input[type=text],input[type=password]{width:100%;box-sizing:border-box;padding:8px;font-size:15px;
border:1px solid #9aa5b1;border-radius:4px}
button{margin-top:18px;width:100%;padding:9px;font-size:15px;background:#1c5fa8;color:#fff;
border:0;border-radius:4px;cursor:pointer}
.err{background:#fde8e8;color:#9b1c1c;padding:8px;border-radius:4px;font-size:14px}
.ok{background:#e3f9e5;color:#1f5130;padding:8px;border-radius:4px;font-size:14px}
.hint{font-size:13px;color:#52606d}.lang{float:right;font-size:13px}
code{word-break:break-all;background:#f0f4f8;padding:2px 4px}
"""


def _hidden(name: str, value: str) -> Markup:
    return Markup('<input type="hidden" name="{}" value="{}">').format(name, value)


def _lang_links(lang: str, path: str, next_path: str | None) -> Markup:
    from urllib.parse import urlencode

    def href(code: str) -> str:
        q = {"lang": code} | ({"next": next_path} if next_path else {})
        return f"{path}?{urlencode(q)}"

    return Markup(
        '<span class="lang"><a href="{}">中文</a> | <a href="{}">English</a></span>'
    ).format(href("zh"), href("en"))


def _page(lang: str, heading: str, body: Markup, *, path: str, next_path: str | None = None) -> str:
    lang = normalise_lang(lang)
    html_lang = "zh-CN" if lang == "zh" else "en"
    return str(
        Markup(
            '<!doctype html><html lang="{}"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            "<title>{} · {}</title><style>{}</style></head>"
            "<body><main>{}<h1>{}</h1><h2>{}</h2>{}</main></body></html>"
        ).format(
            html_lang,
            heading,
            t(TITLE, lang),
            Markup(_STYLE),  # noqa: S704 (a constant)
            _lang_links(lang, path, next_path),
            t(TITLE, lang),
            heading,
            body,
        )  # fmt: skip
    )


def _notice(text: str | None, cls: str = "err") -> Markup:
    return Markup('<p class="{}" role="alert">{}</p>').format(cls, text) if text else Markup("")


def login_page(
    lang: str, *, csrf: str, next_path: str, username: str = "", error: str | None = None
) -> str:
    """The sign-in form (``error``: a msgid shown above it)."""
    body = Markup(
        '<form method="post" action="/login" autocomplete="on">{}{}{}{}'
        '<label for="username">{}</label>'
        '<input type="text" id="username" name="username" value="{}" required autofocus '
        'autocomplete="username" maxlength="64">'
        '<label for="password">{}</label>'
        '<input type="password" id="password" name="password" required '
        'autocomplete="current-password" maxlength="256">'
        '<button type="submit">{}</button></form>'
    ).format(
        _notice(t(error, lang) if error else None),
        _hidden("csrf_token", csrf), _hidden("next", next_path), _hidden("lang", lang),
        t(USERNAME, lang), username, t(PASSWORD, lang), t(SIGN_IN, lang),
    )  # fmt: skip
    return _page(lang, t(SIGN_IN, lang), body, path="/login", next_path=next_path)


def totp_page(lang: str, *, csrf: str, next_path: str, error: str | None = None) -> str:
    """The second step of sign-in: a TOTP code."""
    body = Markup(
        '<form method="post" action="/login/totp">{}{}{}{}<p class="hint">{}</p>'
        '<label for="code">{}</label>'
        '<input type="text" id="code" name="code" inputmode="numeric" pattern="[0-9]{{6}}" '
        'maxlength="6" required autofocus autocomplete="one-time-code">'
        '<button type="submit">{}</button></form>'
    ).format(
        _notice(t(error, lang) if error else None),
        _hidden("csrf_token", csrf), _hidden("next", next_path), _hidden("lang", lang),
        t(SECOND_FACTOR_HINT, lang), t(SECOND_FACTOR, lang), t(VERIFY, lang),
    )  # fmt: skip
    return _page(lang, t(SECOND_FACTOR, lang), body, path="/login/totp", next_path=next_path)


def password_page(
    lang: str,
    *,
    csrf: str,
    display_name: str,
    forced: bool,
    errors: list[str] | None = None,
    done: bool = False,
) -> str:
    """The change-password form (``forced``: the account must change it to continue)."""
    notices = Markup("").join(_notice(t(e, lang)) for e in errors or [])
    if done:
        notices += _notice(t(PASSWORD_CHANGED, lang), "ok")
        notices += Markup('<p><a href="/">{}</a></p>').format(t(BACK_TO_MAP, lang))
    elif forced:
        notices += _notice(t(MUST_CHANGE, lang))
    body = Markup(
        '<p class="hint">{}</p>{}<form method="post" action="/account/password">{}{}'
        '<label for="current">{}</label><input type="password" id="current" name="current" '
        'required autocomplete="current-password" maxlength="256">'
        '<label for="new">{}</label><input type="password" id="new" name="new" required '
        'autocomplete="new-password" maxlength="256">'
        '<label for="repeat">{}</label><input type="password" id="repeat" name="repeat" '
        'required autocomplete="new-password" maxlength="256">'
        '<p class="hint">{}</p><button type="submit">{}</button></form>{}'
    ).format(
        t(SIGNED_IN_AS, lang, name=display_name), notices,
        _hidden("csrf_token", csrf), _hidden("lang", lang),
        t(CURRENT_PASSWORD, lang), t(NEW_PASSWORD, lang), t(REPEAT_PASSWORD, lang),
        t(POLICY_TEXT, lang), t(CHANGE_PASSWORD, lang), _sign_out_form(lang, csrf),
    )  # fmt: skip
    return _page(lang, t(CHANGE_PASSWORD, lang), body, path="/account/password")


def _sign_out_form(lang: str, csrf: str) -> Markup:
    return Markup(
        '<form method="post" action="/logout">{}{}<button type="submit" '
        'style="background:#616e7c">{}</button></form>'
    ).format(_hidden("csrf_token", csrf), _hidden("lang", lang), t(SIGN_OUT, lang))


def account_page(lang: str, *, csrf: str, display_name: str) -> str:
    """Sign-out confirmation (GET /logout)."""
    body = Markup('<p>{}</p><p class="hint">{}</p>{}<p><a href="/">{}</a></p>').format(
        t(SIGNED_IN_AS, lang, name=display_name), t(SIGN_OUT_QUESTION, lang),
        _sign_out_form(lang, csrf), t(BACK_TO_MAP, lang),
    )  # fmt: skip
    return _page(lang, t(SIGN_OUT, lang), body, path="/logout")


def totp_enrol_page(
    lang: str,
    *,
    csrf: str,
    secret: str | None,
    uri: str | None,
    enabled: bool,
    required: bool,
    error: str | None = None,
) -> str:
    """The TOTP set-up page: the key as text and as an ``otpauth://`` link (no QR service)."""
    if enabled:
        body = _notice(t(TOTP_ENABLED, lang), "ok") + Markup('<p><a href="/">{}</a></p>').format(
            t(BACK_TO_MAP, lang)
        )
    else:
        body = Markup(
            '{}{}<p class="hint">{}</p><p>{}: <code id="totp-secret">{}</code></p>'
            '<p><a href="{}">otpauth://</a></p><form method="post" action="/account/totp">{}{}{}'
            '<label for="code">{}</label><input type="text" id="code" name="code" '
            'inputmode="numeric" maxlength="6" required autocomplete="one-time-code">'
            '<button type="submit">{}</button></form>'
        ).format(
            _notice(t(TOTP_REQUIRED, lang)) if required else Markup(""),
            _notice(t(error, lang) if error else None), t(TOTP_ENROL_HINT, lang),
            t(TOTP_KEY, lang), secret, uri, _hidden("csrf_token", csrf),
            _hidden("secret", secret or ""), _hidden("lang", lang),
            t(SECOND_FACTOR, lang), t(VERIFY, lang),
        )  # fmt: skip
    return _page(lang, t(TOTP_TITLE, lang), body, path="/account/totp")


def message_page(
    lang: str, heading_msgid: str, text_msgid: str, *, sign_out_csrf: str | None = None
) -> str:
    """A notice (403 for grid-worker accounts, 503 when the database is down)."""
    body = _notice(t(text_msgid, lang))
    if sign_out_csrf:
        body += _sign_out_form(lang, sign_out_csrf)
    return _page(lang, t(heading_msgid, lang), body, path="/")
