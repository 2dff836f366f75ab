"""A small inline SVG bar chart for the admin (no front-end library)."""

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

BAR_HEIGHT, GAP, LABEL_WIDTH, BAR_WIDTH = 18, 6, 140, 320


def bar_chart(bars: list[tuple[str, float, str]], *, title: str) -> SafeString:
    """Horizontal bars: (label, value, text shown after the bar), scaled to the largest."""
    if not bars:
        return format_html("<p>{}: no data yet.</p>", title)
    top = max(value for _, value, _ in bars) or 1.0
    height = len(bars) * (BAR_HEIGHT + GAP) + GAP
    rows = format_html_join(
        "",
        '<text x="0" y="{}" font-size="12">{}</text>'
        '<rect x="{}" y="{}" width="{}" height="{}" fill="#417690"></rect>'
        '<text x="{}" y="{}" font-size="12">{}</text>',
        (
            (
                GAP + i * (BAR_HEIGHT + GAP) + 13,
                label,
                LABEL_WIDTH,
                GAP + i * (BAR_HEIGHT + GAP),
                round(BAR_WIDTH * max(value, 0.0) / top, 1),
                BAR_HEIGHT,
                LABEL_WIDTH + round(BAR_WIDTH * max(value, 0.0) / top, 1) + 6,
                GAP + i * (BAR_HEIGHT + GAP) + 13,
                text,
            )
            for i, (label, value, text) in enumerate(bars)
        ),
    )
    return format_html(
        '<figure><figcaption>{}</figcaption><svg xmlns="http://www.w3.org/2000/svg" '
        'role="img" aria-label="{}" width="{}" height="{}">{}</svg></figure>',
        title,
        title,
        LABEL_WIDTH + BAR_WIDTH + 120,
        height,
        rows,
    )
