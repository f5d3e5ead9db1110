"""A short name for the device a session was signed in from ("Chrome on Windows"), read from its User-Agent.

Simple substring checks, in an order that puts the browsers that also name Chrome or Safari first: enough to
tell one's own sessions apart, with no dependency to keep current. An unknown agent shows its first word."""
from flask_babel import gettext as _

BROWSERS = (("MicroMessenger", "WeChat"), ("DingTalk", "DingTalk"), ("Lark", "Feishu"), ("Edg", "Edge"),
            ("OPR/", "Opera"), ("SamsungBrowser", "Samsung Internet"), ("Firefox/", "Firefox"),
            ("FxiOS", "Firefox"), ("CriOS", "Chrome"), ("Chrome/", "Chrome"), ("Safari/", "Safari"))
SYSTEMS = (("iPhone", "iPhone"), ("iPad", "iPad"), ("Android", "Android"), ("Windows", "Windows"),
           ("CrOS", "ChromeOS"), ("Mac OS X", "macOS"), ("Linux", "Linux"))


def device_label(user_agent: str) -> str:
    browser = _first(BROWSERS, user_agent)
    system = _first(SYSTEMS, user_agent)
    if browser and system:
        return _("%(browser)s on %(system)s", browser=browser, system=system)
    return browser or system or user_agent.split(" ", 1)[0][:40] or _("Unknown device")


def _first(names: tuple[tuple[str, str], ...], user_agent: str) -> str | None:
    return next((name for mark, name in names if mark in user_agent), None)
