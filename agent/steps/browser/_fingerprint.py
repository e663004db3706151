"""The fingerprint of an element: what it looked like when it was recorded, for self-healing.

About fifteen attributes, the ones the Similo method (Nass, Alégroth, Feldt et al.) compares:
tag, id, name, classes, type, role, accessible name, visible text, placeholder, label, href,
alt, XPath, box (position and size) and the text of neighbouring elements; plus a test id,
a title and a small screenshot kept as an artifact for people reviewing a healed target.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ElementBox(BaseModel):
    """Position and size in CSS pixels, relative to the page's top-left corner."""

    model_config = ConfigDict(extra="forbid")

    x: float = Field(description="Left edge.")
    y: float = Field(description="Top edge.")
    width: float = Field(ge=0, description="Width.")
    height: float = Field(ge=0, description="Height.")


class Fingerprint(BaseModel):
    """The recorded attributes of one element (empty string = the element had none)."""

    model_config = ConfigDict(extra="forbid")

    tag: str = Field(default="", description="Lower-case tag name, e.g. 'input'.")
    id: str = Field(default="", description="The id attribute.")
    name: str = Field(default="", description="The name attribute.")
    classes: list[str] = Field(default_factory=list, description="The class names.")
    type: str = Field(default="", description="The type attribute (inputs, buttons).")
    role: str = Field(default="", description="The ARIA role, explicit or implied by the tag.")
    accessible_name: str = Field(default="", description="The accessible name (aria-label, label, text...).")
    text: str = Field(default="", description="The visible text, whitespace collapsed, at most 200 characters.")
    placeholder: str = Field(default="", description="The placeholder attribute.")
    label: str = Field(default="", description="The text of the element's <label>, if any.")
    href: str = Field(default="", description="The href attribute (links).")
    alt: str = Field(default="", description="The alt attribute (images).")
    title: str = Field(default="", description="The title attribute.")
    test_id: str = Field(default="", description="The data-testid attribute.")
    xpath: str = Field(default="", description="An absolute XPath, e.g. /html/body/form/input[2].")
    box: ElementBox | None = Field(default=None, description="Where the element was on the page.")
    neighbours: list[str] = Field(
        default_factory=list, description="Texts next to the element (its row, its label, its group)."
    )
    screenshot: str | None = Field(
        default=None, description="The artifact holding a small screenshot of the element, when one was taken."
    )


# One function, used both to record an element and to read the page's candidates when healing,
# so the two sides of a comparison are always measured the same way.
FINGERPRINT_JS = r"""
(e) => {
  const clean = (s, n) => (s || '').replace(/\s+/g, ' ').trim().slice(0, n || 200);
  const attr = (a) => clean(e.getAttribute(a));
  const tag = e.tagName.toLowerCase();
  const type = (e.getAttribute('type') || (tag === 'input' ? 'text' : '')).toLowerCase();
  const implicit = () => {
    if (tag === 'a' && e.hasAttribute('href')) return 'link';
    if (tag === 'button' || (tag === 'input' && ['button', 'submit', 'reset', 'image'].includes(type))) return 'button';
    if (tag === 'input' && type === 'checkbox') return 'checkbox';
    if (tag === 'input' && type === 'radio') return 'radio';
    if (tag === 'input' && type === 'range') return 'slider';
    const typed = ['text', 'email', 'tel', 'url', 'password', 'number', 'search', ''];
    if (tag === 'textarea' || (tag === 'input' && typed.includes(type))) return 'textbox';
    if (tag === 'select') return 'combobox';
    if (tag === 'img') return 'img';
    if (/^h[1-6]$/.test(tag)) return 'heading';
    return {li: 'listitem', ul: 'list', ol: 'list', table: 'table', tr: 'row', td: 'cell', th: 'columnheader',
            nav: 'navigation', form: 'form', option: 'option', dialog: 'dialog'}[tag] || '';
  };
  const labelText = () => {
    const parts = [];
    if (e.labels) for (const l of e.labels) parts.push(l.innerText);
    return clean(parts.join(' '));
  };
  const byIds = (ids) => clean(ids.split(/\s+/).map(i => {
    const t = document.getElementById(i);
    return t ? t.innerText : '';
  }).join(' '));
  const text = clean(e.innerText || (['button', 'submit', 'reset'].includes(type) ? e.value : ''));
  const label = labelText();
  const name = attr('aria-label') || (e.getAttribute('aria-labelledby') ? byIds(e.getAttribute('aria-labelledby')) : '')
    || label || (['a', 'button'].includes(tag) ? text : '') || attr('alt') || attr('title') || attr('placeholder');
  const xpath = () => {
    const steps = [];
    for (let n = e; n && n.nodeType === 1; n = n.parentElement) {
      let i = 1;
      for (let s = n.previousElementSibling; s; s = s.previousElementSibling) if (s.tagName === n.tagName) i++;
      steps.unshift(n.tagName.toLowerCase() + '[' + i + ']');
    }
    return '/' + steps.join('/');
  };
  const neighbours = () => {
    const found = [];
    let child = e;
    // The texts of the nearest level that has any (its row, its group), not the whole form.
    for (let up = e.parentElement, level = 0; up && level < 3 && !found.length; up = up.parentElement, level++) {
      for (const sib of up.children) {
        if (sib === child || sib.contains(e)) continue;
        const t = clean(sib.innerText, 60);
        if (t && !found.includes(t)) found.push(t);
        if (found.length >= 3) break;
      }
      child = up;
    }
    return found;
  };
  const r = e.getBoundingClientRect();
  const s = getComputedStyle(e);
  return {
    tag, id: attr('id'), name: attr('name'),
    classes: (e.getAttribute('class') || '').split(/\s+/).filter(Boolean).slice(0, 10),
    type: tag === 'input' || tag === 'button' ? type : '', role: attr('role') || implicit(), accessible_name: name,
    text, placeholder: attr('placeholder'), label, href: attr('href'), alt: attr('alt'), title: attr('title'),
    test_id: attr('data-testid'), xpath: xpath(),
    box: {x: r.x + window.scrollX, y: r.y + window.scrollY, width: r.width, height: r.height},
    neighbours: neighbours(),
    visible: r.width > 0 && r.height > 0 && s.visibility !== 'hidden',
  };
}
"""
