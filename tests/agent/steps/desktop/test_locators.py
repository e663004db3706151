"""The locator syntax and image matching, without a display (pure code)."""

from __future__ import annotations

import pytest
from PIL import Image, ImageDraw

from agent.steps.desktop import LocatorSyntaxError, Segment, match_template, parse_target


def test_each_locator_kind_parses_to_its_segment() -> None:
    assert parse_target("image:button.png") == (Segment("image", "button.png", (), 0),)
    assert parse_target('ocr:"Submit"') == (Segment("ocr", "Submit", (), 0),)
    assert parse_target("point:100,200")[0].numbers == (100, 200)
    assert parse_target("region:0,10,640,400")[0].numbers == (0, 10, 640, 400)
    assert parse_target('window:"Invoice*"')[0].value == "Invoice*"


def test_chains_carry_offsets_and_anchors_with_their_distances() -> None:
    chain = parse_target('window:"Invoice*" >> ocr:"Total" >> right-of')
    assert [s.kind for s in chain] == ["window", "ocr", "anchor"]
    assert chain[2].value == "right-of"
    assert chain[2].numbers == (50,)
    assert parse_target("image:logo.png >> offset:600,-5")[1].numbers == (600, -5)
    assert parse_target("image:a.png>>below:12")[1].numbers == (12,)


def test_quoted_text_may_hold_the_chain_separator_and_escaped_quotes() -> None:
    (segment,) = parse_target(r'ocr:"Save >> \"Draft\""')
    assert segment.value == 'Save >> "Draft"'


@pytest.mark.parametrize(
    ("target", "message", "column"),
    [
        ("imag:button.png", "unknown locator kind 'imag'", 1),
        ("point:100", "point: takes 2 integers", 7),
        ("point:10,x", "'x' is not an integer", 7),
        ("region:100,0,50,400", "right must exceed left", 8),
        ('ocr:"Submit', "unterminated quoted string", 12),
        ("image:a.png >> ", "empty segment", 16),
        ("offset:10,10", "moves from a previous match", 1),
        ("image:a.png >> window:x", "window: can only start a target", 16),
        ("submit", "is not a locator", 1),
    ],
)
def test_a_bad_target_says_what_is_wrong_and_at_which_column(target: str, message: str, column: int) -> None:
    with pytest.raises(LocatorSyntaxError, match=message) as caught:
        parse_target(target)
    assert caught.value.position + 1 == column
    assert f"at column {column}" in str(caught.value)


def _pattern(width: int = 60, height: int = 30) -> Image.Image:
    image = Image.new("RGB", (width, height), "#2040d0")
    draw = ImageDraw.Draw(image)
    for x in range(0, width, 8):  # fine stripes: a copy at another scale no longer lines up
        draw.rectangle((x, 0, x + 3, height), fill="#d02020")
    draw.line((0, 0, width, height), fill="#000000", width=3)
    return image


def _screen_with(template: Image.Image, places: list[tuple[int, int]]) -> Image.Image:
    screen = Image.new("RGB", (1280, 800), "#d8d8d8")
    for place in places:
        screen.paste(template, place)
    return screen


def test_the_best_match_is_where_the_image_was_put() -> None:
    template = _pattern()
    (match,) = match_template(_screen_with(template, [(700, 420)]), template)
    assert (match.left, match.top, match.width, match.height) == (700, 420, 60, 30)
    assert match.confidence > 0.99


def test_every_match_gives_each_copy_once_by_non_maximum_suppression() -> None:
    template = _pattern()
    places = [(10, 10), (300, 500), (1000, 700)]
    matches = match_template(_screen_with(template, places), template, every=True)
    assert sorted((m.left, m.top) for m in matches) == places


def test_the_scale_pyramid_finds_an_image_shown_larger_than_it_was_captured() -> None:
    template = _pattern()
    shown = template.resize((75, 38))
    screen = _screen_with(shown, [(500, 300)])
    assert match_template(screen, template, confidence=0.9) == []
    (match,) = match_template(screen, template, confidence=0.8, scales=(0.8, 1.0, 1.25))
    assert match.scale == 1.25
    assert abs(match.left - 500) <= 2
    assert abs(match.top - 300) <= 2


def test_the_origin_shifts_matches_from_a_region_to_screen_coordinates() -> None:
    template = _pattern()
    (match,) = match_template(_screen_with(template, [(40, 50)]), template, origin=(100, 200))
    assert (match.left, match.top) == (140, 250)


def test_the_half_resolution_pass_finds_what_a_full_search_finds(monkeypatch: pytest.MonkeyPatch) -> None:
    from agent.steps.desktop import _match

    template = _pattern()
    near_miss = template.copy()
    ImageDraw.Draw(near_miss).rectangle((40, 5, 55, 25), fill="#ffffff")  # a similar, wrong button
    screen = Image.effect_noise((1280, 800), 40).convert("RGB")
    screen.paste(near_miss, (200, 150))
    quick: list[object] = []
    original = _match._best_coarse_to_fine
    monkeypatch.setattr(_match, "_best_coarse_to_fine", lambda *a: quick.append(original(*a)) or quick[-1])
    results = []
    for place in [(0, 0), (611, 333), (1220, 770), (45, 701)]:
        shown = screen.copy()
        shown.paste(template, place)
        fast = match_template(shown, template)
        with monkeypatch.context() as patched:
            patched.setattr(_match, "COARSE_MIN_PIXELS", 10**9)  # full resolution only
            full = match_template(shown, template)
        assert [(m.left, m.top) for m in fast] == [(m.left, m.top) for m in full] == [place]
        results.append(fast[0].confidence)
    assert min(results) > 0.99
    assert all(found is not None for found in quick[::2]), "the half-resolution pass gave up"


def test_a_long_data_uri_is_shortened_in_messages() -> None:
    uri = "data:image/png;base64," + "A" * 4000
    (segment,) = parse_target(f"image:{uri}")
    assert segment.value == uri
    assert len(str(segment)) < 100
