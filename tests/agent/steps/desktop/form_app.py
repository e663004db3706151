"""A small real Tk window the desktop tests drive: `python form_app.py STATE_FILE BUTTON_PNG`.

It shows an entry, an image button, a text button ("Submit" in a large font, for OCR targets),
a status label the buttons change, and a canvas that records mouse events. After every change it
writes its state as JSON to STATE_FILE (atomically), so the tests read back what really arrived.
It also writes the image button's picture to BUTTON_PNG before it maps the window, so the tests
use the very pixels on screen as an `image:` target.
"""

from __future__ import annotations

import json
import os
import sys
import tkinter as tk
from pathlib import Path
from typing import Any

TITLE = "RPA Test Form"


def _pattern(image: tk.PhotoImage, width: int, height: int) -> None:
    # Colour bands with a diagonal: distinctive for template matching, not a flat block.
    for y in range(height):
        row = []
        for x in range(width):
            if abs(x - 2 * y) < 3:
                row.append("#000000")
            elif x < width // 3:
                row.append("#d02020")
            elif x < 2 * width // 3:
                row.append("#20a040")
            else:
                row.append("#2040d0")
        image.put("{" + " ".join(row) + "}", to=(0, y))


def main(state_file: Path, button_png: Path) -> None:
    state: dict[str, Any] = {"entry": "", "image_clicks": 0, "text_clicks": 0, "status": "idle", "events": []}
    root = tk.Tk()
    root.title(TITLE)
    root.geometry("640x420+100+80")

    def save() -> None:
        state["entry"] = entry.get()
        tmp = state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state))
        os.replace(tmp, state_file)

    entry = tk.Entry(root, width=30, font=("DejaVu Sans", 14))
    entry.place(x=20, y=20)
    entry.bind("<KeyRelease>", lambda _e: save())

    picture = tk.PhotoImage(width=60, height=30)
    _pattern(picture, 60, 30)
    picture.write(str(button_png), format="png")

    def pressed(which: str) -> None:
        state[f"{which}_clicks"] += 1
        state["status"] = f"{which} pressed"
        status.config(text=state["status"])
        save()

    tk.Button(root, image=picture, command=lambda: pressed("image"), borderwidth=0).place(x=400, y=20)
    tk.Button(root, text="Submit", font=("DejaVu Sans", 22), command=lambda: pressed("text")).place(x=400, y=80)
    status = tk.Label(root, text="idle", font=("DejaVu Sans", 14))
    status.place(x=20, y=80)

    canvas = tk.Canvas(root, width=600, height=220, background="#ffffff", highlightthickness=0)
    canvas.place(x=20, y=180)

    def record(kind: str):  # type: ignore[no-untyped-def]
        def handler(event: tk.Event) -> None:  # type: ignore[type-arg]
            state["events"].append({"kind": kind, "num": getattr(event, "num", None), "x": event.x, "y": event.y})
            save()

        return handler

    for num in (1, 2, 3):
        canvas.bind(f"<ButtonPress-{num}>", record("press"))
        canvas.bind(f"<ButtonRelease-{num}>", record("release"))
    canvas.bind("<Double-Button-1>", record("double"))
    canvas.bind("<Button-4>", record("scroll_up"))
    canvas.bind("<Button-5>", record("scroll_down"))
    canvas.bind("<B1-Motion>", lambda e: state.update(last_drag=[e.x, e.y]))
    root.bind("<KeyPress-Shift_L>", record("shift_down"))
    root.bind("<KeyRelease-Shift_L>", record("shift_up"))

    def tick() -> None:
        # Also every 100 ms: a paste fetches the clipboard in a nested event loop, so the key
        # release that saves may run before the text is in the entry.
        save()
        root.after(100, tick)

    entry.focus_set()
    root.after(50, tick)
    root.mainloop()


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
