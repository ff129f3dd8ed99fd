"""A small SVG line-chart writer for bench/table.py (no dependencies).

One chart: categorical x (the points of a series, equally spaced: the
series grow geometrically), logarithmic y, one line per system."""

import math
from xml.sax.saxutils import escape

W, H = 640, 380
LEFT, RIGHT, TOP, BOTTOM = 70, 150, 36, 56
COLOURS = ['#1f5fa8', '#c0392b', '#2e8b57', '#8e44ad', '#d68910', '#555555']
DASHES = ['', '6 3', '2 3', '8 3 2 3', '4 4', '1 2']


def _num(v):
    for unit, size in (('G', 1e9), ('M', 1e6), ('k', 1e3)):
        if abs(v) >= size:
            return f'{v / size:g}{unit}'
    return f'{v:g}'


def line_chart(path, title, xlabel, ylabel, xs, lines):
    """lines: [(name, [value or None per x])]; writes an SVG file at path."""
    values = [v for _, vs in lines for v in vs if v is not None and v > 0]
    if not values or not xs:
        return
    lo = 10 ** math.floor(math.log10(min(values)))
    hi = 10 ** math.ceil(math.log10(max(values)))
    if hi <= lo:
        hi = lo * 10
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM

    def px(i):
        return LEFT + (pw * (i + 0.5) / len(xs))

    def py(v):
        return TOP + ph - ph * (math.log10(v) - math.log10(lo)) / (math.log10(hi) - math.log10(lo))

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
           f'viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="11">',
           f'<rect width="{W}" height="{H}" fill="white"/>',
           f'<text x="{W / 2}" y="20" text-anchor="middle" font-size="13">{escape(title)}</text>']
    decade = lo
    while decade <= hi * 1.0001:
        y = py(decade)
        out.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{LEFT + pw}" y2="{y:.1f}" stroke="#dddddd"/>')
        out.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{_num(decade)}</text>')
        decade *= 10
    for i, x in enumerate(xs):
        out.append(f'<line x1="{px(i):.1f}" y1="{TOP + ph}" x2="{px(i):.1f}" y2="{TOP + ph + 4}" stroke="black"/>')
        out.append(f'<text x="{px(i):.1f}" y="{TOP + ph + 17}" text-anchor="middle">{escape(x)}</text>')
    out.append(f'<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="none" stroke="black"/>')
    out.append(f'<text x="{LEFT + pw / 2}" y="{H - 14}" text-anchor="middle">{escape(xlabel)}</text>')
    out.append(f'<text transform="translate(16 {TOP + ph / 2}) rotate(-90)" text-anchor="middle">'
               f'{escape(ylabel)}, log scale</text>')
    for k, (name, vs) in enumerate(lines):
        colour, dash = COLOURS[k % len(COLOURS)], DASHES[k % len(DASHES)]
        pts = [(px(i), py(v)) for i, v in enumerate(vs) if v is not None and v > 0]
        if not pts:
            continue
        d = ' '.join(f'{x:.1f},{y:.1f}' for x, y in pts)
        out.append(f'<polyline points="{d}" fill="none" stroke="{colour}" stroke-width="2"'
                   + (f' stroke-dasharray="{dash}"' if dash else '') + '/>')
        for x, y in pts:
            out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"/>')
        ly = TOP + 10 + 18 * k
        out.append(f'<line x1="{LEFT + pw + 12}" y1="{ly}" x2="{LEFT + pw + 36}" y2="{ly}" '
                   f'stroke="{colour}" stroke-width="2"' + (f' stroke-dasharray="{dash}"' if dash else '') + '/>')
        out.append(f'<text x="{LEFT + pw + 40}" y="{ly + 4}">{escape(name)}</text>')
    out.append('</svg>')
    with open(path, 'w') as f:
        f.write('\n'.join(out) + '\n')
