"""A short readable name for a browser's User-Agent, for the list of signed-in sessions (R27):
"Chrome 131 · Windows", "WeChat · iPhone". Standard library only; a best effort, never a check
(the header is whatever the client sends)."""
from __future__ import annotations

import re
from dataclasses import dataclass

# First match wins: in-app and vendor browsers before the engines whose tokens they also carry
# (Edge and Opera say "Chrome", Chrome says "Safari").
_BROWSERS: tuple[tuple[str, str], ...] = (
    ("WeChat", r"MicroMessenger/(\d+)"),
    ("DingTalk", r"DingTalk/(\d+)"),
    ("Alipay", r"AlipayClient/(\d+)"),
    ("QQ Browser", r"MQQBrowser/(\d+)|QQBrowser/(\d+)"),
    ("UC Browser", r"UCBrowser/(\d+)"),
    ("Quark", r"Quark/(\d+)"),
    ("Edge", r"Edg(?:e|A|iOS)?/(\d+)"),
    ("Opera", r"OPR/(\d+)|Opera/(\d+)"),
    ("Samsung Internet", r"SamsungBrowser/(\d+)"),
    ("Firefox", r"(?:Firefox|FxiOS)/(\d+)"),
    ("Chrome", r"(?:HeadlessChrome|Chrome|CriOS)/(\d+)"),
    ("Safari", r"Version/(\d+)[.\d]* (?:Mobile/\S+ )?Safari/"),
    ("curl", r"^curl/(\d+)"),
)
_SYSTEMS: tuple[tuple[str, str], ...] = (
    ("HarmonyOS", r"HarmonyOS|OpenHarmony"),
    ("iPhone", r"iPhone"),
    ("iPad", r"iPad"),
    ("Android", r"Android"),
    ("Windows", r"Windows"),
    ("ChromeOS", r"CrOS"),
    ("macOS", r"Mac OS X|Macintosh"),
    ("Linux", r"Linux|X11"),
)
_BROWSER_RES = tuple((name, re.compile(pattern)) for name, pattern in _BROWSERS)
_SYSTEM_RES = tuple((name, re.compile(pattern)) for name, pattern in _SYSTEMS)


@dataclass(frozen=True)
class Device:
    browser: str | None  # "Chrome 131", or None when not recognised
    system: str | None  # "Windows", or None

    @property
    def known(self) -> bool:
        return bool(self.browser or self.system)

    def __str__(self) -> str:
        return " · ".join(part for part in (self.browser, self.system) if part)


def describe(user_agent: str | None) -> Device:
    ua = (user_agent or "")[:512]
    browser = None
    for name, pattern in _BROWSER_RES:
        m = pattern.search(ua)
        if m:
            version = next((g for g in m.groups() if g), None)
            browser = f"{name} {version}" if version and name not in ("WeChat", "DingTalk", "Alipay") else name
            break
    system = next((name for name, pattern in _SYSTEM_RES if pattern.search(ua)), None)
    return Device(browser, system)
