"""Key names the keyboard steps accept: pyautogui's `KEYBOARD_KEYS` (0.9.54), copied so that
`rpa validate` can check them without importing pyautogui (which needs a display).
Single printable characters are keys too (`a`, `1`, `+`).
"""

from __future__ import annotations

__all__ = ["KEY_NAMES", "check_key"]

_NAMES = """
    accept add alt altleft altright apps backspace browserback browserfavorites browserforward
    browserhome browserrefresh browsersearch browserstop capslock clear command convert ctrl ctrlleft
    ctrlright decimal del delete divide down end enter esc escape execute f1 f2 f3 f4 f5 f6 f7 f8 f9
    f10 f11 f12 f13 f14 f15 f16 f17 f18 f19 f20 f21 f22 f23 f24 final fn hanguel hangul hanja help
    home insert junja kana kanji launchapp1 launchapp2 launchmail launchmediaselect left modechange
    multiply nexttrack nonconvert num0 num1 num2 num3 num4 num5 num6 num7 num8 num9 numlock option
    optionleft optionright pagedown pageup pause pgdn pgup playpause prevtrack print printscreen
    prntscrn prtsc prtscr return right scrolllock select separator shift shiftleft shiftright sleep
    space stop subtract tab up volumedown volumemute volumeup win winleft winright yen
"""
KEY_NAMES = frozenset(_NAMES.split())


def check_key(name: str) -> str:
    """The key name in lower case; a pydantic validator (so `rpa validate` checks key names).

    Raises:
        ValueError: an unknown key name, with the nearest known ones.
    """
    if len(name) == 1:
        return name
    key = name.lower()
    if key not in KEY_NAMES:
        import difflib

        close = difflib.get_close_matches(key, sorted(KEY_NAMES), n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise ValueError(f"unknown key name '{name}'{hint}")
    return key
