"""JavaScript run in the page to read tables, links and repeated items in one round trip each."""

from __future__ import annotations

__all__ = ["ITEMS_JS", "LINKS_JS", "TABLE_JS"]

# A grid of the table's cells with colspan/rowspan spread, then header rows: the <thead> rows, or
# the leading rows made only of <th>; several header rows join as "Top / Sub" when they differ.
TABLE_JS = """
(table) => {
  const rows = Array.from(table.rows);
  const grid = [];
  const kinds = [];
  rows.forEach((row, r) => {
    grid[r] = grid[r] || [];
    let c = 0;
    for (const cell of Array.from(row.cells)) {
      while (grid[r][c] !== undefined) c++;
      const span = Math.max(1, cell.colSpan || 1), down = Math.max(1, cell.rowSpan || 1);
      const text = (cell.innerText || cell.textContent || '').replace(/\\s+/g, ' ').trim();
      for (let i = 0; i < down; i++) {
        grid[r + i] = grid[r + i] || [];
        for (let j = 0; j < span; j++) grid[r + i][c + j] = text;
      }
      c += span;
    }
    const inHead = row.parentElement && row.parentElement.tagName === 'THEAD';
    const allTh = row.cells.length > 0 && Array.from(row.cells).every(x => x.tagName === 'TH');
    kinds[r] = inHead || allTh ? 'head' : 'body';
  });
  let heads = 0;
  while (heads < kinds.length && kinds[heads] === 'head') heads++;
  const width = Math.max(0, ...grid.map(r => r.length));
  return {width, head: grid.slice(0, heads), body: grid.slice(heads).map(r => {
    const out = []; for (let i = 0; i < width; i++) out.push(r[i] === undefined ? '' : r[i]); return out;
  })};
}
"""

LINKS_JS = """
(els) => els.map(a => ({
  text: (a.innerText || a.textContent || '').replace(/\\s+/g, ' ').trim(),
  href: a.href,
  title: a.getAttribute('title')
}))
"""

# For each item element: each field {selector, attribute} -> the first match's text or attribute.
ITEMS_JS = """
(els, fields) => els.map(el => {
  const out = {};
  for (const [name, f] of Object.entries(fields)) {
    const node = f.selector ? el.querySelector(f.selector) : el;
    if (!node) { out[name] = null; continue; }
    if (f.attribute) {
      out[name] = f.attribute === 'href' && node.href !== undefined ? node.href : node.getAttribute(f.attribute);
    } else {
      out[name] = (node.innerText || node.textContent || '').replace(/\\s+/g, ' ').trim();
    }
  }
  return out;
})
"""
