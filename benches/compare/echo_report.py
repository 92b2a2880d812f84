#!/usr/bin/env python3
"""Tables and a chart from the echo bench's output.

Reads `benches/compare/target/echo.json` (written by
`cargo bench --manifest-path benches/compare/Cargo.toml --bench echo`),
prints the machine block and two Markdown tables (messages per second, and
each column's ratio to the baseline, tokio-tungstenite), and writes
`benches/echo.svg`: grouped bars of messages per second per column, one
group per row, on a log scale. Standard library only; the SVG is written
by hand.

    python3 benches/compare/echo_report.py [ECHO_JSON] [--svg PATH]
"""

import json
import math
import os
import sys
from xml.sax.saxutils import escape

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
DEFAULT_JSON = os.path.join(HERE, "target", "echo.json")
DEFAULT_SVG = os.path.join(ROOT, "benches", "echo.svg")

# One colour per column, in the bench's order; ours first, in blues.
COLOURS = {
    "ours-tokio": "#1f4e9c",
    "ours-blocking": "#4f86d9",
    "ours-sansio-threads": "#9cc2f0",
    "tokio-tungstenite": "#c0392b",
    "fastwebsockets": "#e67e22",
    "tokio-websockets": "#8e44ad",
    "tungstenite-threads": "#e8a0a0",
    "tcp-tokio": "#555555",
    "tcp-threads": "#aaaaaa",
}
SPARE = ["#2ca02c", "#17becf", "#bcbd22", "#7f7f7f"]


def size_name(size):
    if size >= 1024 and size % 1024 == 0:
        return f"{size // 1024} KiB"
    return f"{size} B"


def si(value):
    """1000 -> 1k, 1e6 -> 1M."""
    for factor, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= factor:
            return f"{value / factor:g}{suffix}"
    return f"{value:g}"


def row_label(row):
    return f"{row['conns']}, {size_name(row['size'])}, {row['in_flight']}"


def machine_block(machine):
    lines = [f"- date: {machine['date']}"]
    cpu = f"`{machine['cpu']}`"
    if machine.get("family"):
        cpu += f", {machine['family']}"
    lines.append(f"- CPU: {cpu}")
    lines.append(f"- vector extensions: {', '.join(machine['vector'].split()) or 'none detected'}")
    lines.append(f"- cores: {machine['cores']}")
    lines.append(f"- rustc: {machine['rustc']}")
    return "\n".join(lines)


def tables(data):
    columns = data["columns"]
    out = [machine_block(data["machine"]), ""]
    out.append(
        f"{data['rounds']} rounds of {data['window_ms']} ms after {data['warmup_ms']} ms "
        f"of warm-up per cell, columns in turns; tokio servers and the load generator on "
        f"multi-thread runtimes of {data['workers']} workers."
    )
    out.append("")
    head = "| conns, size, in flight | " + " | ".join(columns) + " |"
    rule = "|---|" + "---:|" * len(columns)
    out += ["Messages per second (median over rounds):", "", head, rule]
    for row in data["rows"]:
        cells = " | ".join(f"{v:.0f}" for v in row["median"])
        out.append(f"| {row_label(row)} | {cells} |")
    out += ["", f"Ratio to {data['baseline']} (median over rounds of each round's ratio):", "", head, rule]
    for row in data["rows"]:
        cells = " | ".join(f"{v:.2f}" for v in row["ratio"])
        out.append(f"| {row_label(row)} | {cells} |")
    return "\n".join(out)


def chart(data):
    columns = data["columns"]
    rows = data["rows"]
    colours = {}
    spare = iter(SPARE)
    for name in columns:
        colours[name] = COLOURS.get(name) or next(spare, "#000000")

    values = [v for row in rows for v in row["median"] if v > 0]
    lo = 10 ** math.floor(math.log10(min(values)))
    hi = 10 ** math.ceil(math.log10(max(values)))

    bar, gap = 6, 14
    group = bar * len(columns) + gap
    left, right, top, bottom = 70, 20, 60, 120
    plot_w = group * len(rows)
    plot_h = 360
    width = left + plot_w + right
    legend_h = 22 * math.ceil(len(columns) / 5)
    height = top + plot_h + bottom + legend_h

    def y(v):
        frac = (math.log10(v) - math.log10(lo)) / (math.log10(hi) - math.log10(lo))
        return top + plot_h * (1 - frac)

    m = data["machine"]
    title = "Echo over loopback: messages per second (log scale), higher is better"
    subtitle = (
        f"{m['cpu']} ({m['family']}), {m['cores']} cores, {m['rustc']}, {m['date']}; "
        f"median of {data['rounds']} interleaved rounds"
    )
    svg = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{left}" y="22" font-size="15" font-weight="bold">{escape(title)}</text>',
        f'<text x="{left}" y="40" fill="#444">{escape(subtitle)}</text>',
    ]
    # Every other row shaded, under the grid.
    for i in range(1, len(rows), 2):
        svg.append(
            f'<rect x="{left + i * group}" y="{top}" width="{group}" height="{plot_h}" fill="#f4f4f4"/>'
        )
    # Grid: every power of ten, labelled, and 2 and 5 between them.
    decade = lo
    while decade <= hi:
        for k in (1, 2, 5):
            v = decade * k
            if v > hi:
                break
            yy = y(v)
            colour = "#bbbbbb" if k == 1 else "#eeeeee"
            svg.append(
                f'<line x1="{left}" y1="{yy:.1f}" x2="{left + plot_w}" y2="{yy:.1f}" stroke="{colour}"/>'
            )
            if k == 1:
                label = si(v)
                svg.append(
                    f'<text x="{left - 6}" y="{yy + 4:.1f}" text-anchor="end">{label}</text>'
                )
        decade *= 10
    svg.append(
        f'<text x="16" y="{top + plot_h / 2:.0f}" transform="rotate(-90 16 {top + plot_h / 2:.0f})" '
        f'text-anchor="middle">messages per second</text>'
    )
    for i, row in enumerate(rows):
        x0 = left + i * group + gap / 2
        for j, name in enumerate(columns):
            v = row["median"][j]
            if v <= 0:
                continue
            yy = y(v)
            svg.append(
                f'<rect x="{x0 + j * bar:.1f}" y="{yy:.1f}" width="{bar - 1}" '
                f'height="{top + plot_h - yy:.1f}" fill="{colours[name]}">'
                f"<title>{escape(name)}, {escape(row_label(row))}: {v:.0f}/s</title></rect>"
            )
        cx = x0 + bar * len(columns) / 2
        label = f"{row['conns']}c {size_name(row['size'])} ×{row['in_flight']}"
        svg.append(
            f'<text x="{cx:.1f}" y="{top + plot_h + 10}" text-anchor="end" '
            f'transform="rotate(-45 {cx:.1f} {top + plot_h + 10})">{escape(label)}</text>'
        )
    svg.append(
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#333"/>'
    )
    svg.append(
        f'<text x="{left}" y="{top + plot_h + bottom - 18}" fill="#444">'
        f"rows: connections, message size, messages in flight per connection</text>"
    )
    ly = top + plot_h + bottom
    for j, name in enumerate(columns):
        lx = left + (j % 5) * 190
        yy = ly + (j // 5) * 22
        svg.append(f'<rect x="{lx}" y="{yy - 10}" width="12" height="12" fill="{colours[name]}"/>')
        svg.append(f'<text x="{lx + 18}" y="{yy}">{escape(name)}</text>')
    svg.append("</svg>")
    return "\n".join(svg) + "\n"


def main(argv):
    path, svg_path = DEFAULT_JSON, DEFAULT_SVG
    args = iter(argv)
    for arg in args:
        if arg == "--svg":
            svg_path = next(args)
        else:
            path = arg
    with open(path) as f:
        data = json.load(f)
    print(tables(data))
    with open(svg_path, "w") as f:
        f.write(chart(data))
    print(f"\nwrote {os.path.relpath(svg_path, ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
