"""Figures of the signup page as a person meets it: how tall, how heavy, how many tab
stops to the Subscribe button, and where the preview sits. Used by the browser tests,
which save them under var/ next to the screenshots."""

from __future__ import annotations

TAB_LIMIT = 200

# The visible Subscribe button (not the hidden default button that makes Enter subscribe).
IS_SUBSCRIBE = """() => {
  const el = document.activeElement;
  return !!el && el.type === 'submit' && el.textContent.trim() === 'Subscribe' && el.tabIndex !== -1;
}"""


def tab_stops_to_subscribe(page) -> int:
    """Tab presses from the top of a freshly loaded page to the Subscribe button."""
    page.evaluate("() => { document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0); }")
    for presses in range(1, TAB_LIMIT + 1):
        page.keyboard.press("Tab")
        if page.evaluate(IS_SUBSCRIBE):
            return presses
    raise AssertionError(f"Subscribe not reached in {TAB_LIMIT} tab stops")


def page_figures(page, response) -> dict:
    figures = page.evaluate(
        """() => {
          const preview = document.getElementById('preview');
          return {
            height_px: document.documentElement.scrollHeight,
            elements: document.querySelectorAll('*').length,
            preview_y: preview ? Math.round(preview.getBoundingClientRect().top + window.scrollY) : null,
          };
        }"""
    )
    figures["bytes"] = len(response.body())
    figures["tab_stops_to_subscribe"] = tab_stops_to_subscribe(page)
    return figures
