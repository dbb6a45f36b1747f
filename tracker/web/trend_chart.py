"""The dashboard's weekly trend as SVG geometry, and where its rate bars start; the template draws both."""


def trend_chart(weeks: list[dict], width: int = 960, height: int = 280) -> dict:
    """Geometry of the weekly trend, drawn as SVG by the template: two panels on one week axis.

    The compliance rate has its own panel scaled to its range in the period (it sits at 97-99 % in practice, a flat
    line on a 0-100 axis), with gridlines at its lowest and highest week, labelled; the inspections are bars from 0
    in the panel below, with gridlines at 0 and at the busiest week.
    """
    left, right = 76, 14
    rate_top, rate_h = 24, round(height * 0.3)
    bar_top = rate_top + rate_h + 34
    base = height - 26
    pw = width - left - right
    n = max(1, len(weeks))
    step = pw / n
    rates = [w["compliance_rate"] for w in weeks if w["compliance_rate"] is not None]
    lo, hi = (min(rates), max(rates)) if rates else (0.0, 100.0)
    pad = max(0.5, (hi - lo) * 0.15)  # keeps the line off the panel's edges
    d_lo, d_hi = lo - pad, hi + pad

    def rate_y(v):
        return round(rate_top + rate_h * (d_hi - v) / (d_hi - d_lo), 1)
    peak = max([w["inspections"] for w in weeks] + [1])
    bars, dots, labels = [], [], []
    every = max(1, -(-n // (8 if width >= 600 else 5)))
    for i, w in enumerate(weeks):
        x = left + i * step
        bh = (base - bar_top) * w["inspections"] / peak
        bw = min(step * 0.7, 40)
        bars.append({"x": round(x + (step - bw) / 2, 1), "y": round(base - bh, 1), "w": round(bw, 1),
                     "h": round(bh, 1), "week": w["week"], "n": w["inspections"]})
        if w["compliance_rate"] is not None:
            dots.append({"x": round(x + step / 2, 1), "y": rate_y(w["compliance_rate"]), "week": w["week"],
                         "rate": w["compliance_rate"]})
        if (n - 1 - i) % every == 0:  # counted back from the last week, so that it is always labelled
            labels.append({"x": round(x + step / 2, 1), "text": w["week"][5:] if n > 1 else w["week"]})
    if not rates:
        rate_grid = []
    elif lo == hi:
        rate_grid = [{"y": rate_y(hi), "v": hi, "kind": "only"}]
    else:
        rate_grid = [{"y": rate_y(hi), "v": hi, "kind": "max"}, {"y": rate_y(lo), "v": lo, "kind": "min"}]
    return {"width": width, "height": height, "left": left, "right": width - right,
            "rate_top": rate_top, "rate_bottom": rate_top + rate_h, "rate_grid": rate_grid,
            "bar_top": bar_top, "base": base, "peak": peak, "bars": bars, "labels": labels, "dots": dots,
            "points": " ".join(f"{d['x']},{d['y']}" for d in dots)}


def rate_floor(rates) -> int:
    """Where the rate bars start: the tens below the lowest rate shown, at most 90, so that 97 % and 100 % differ."""
    vals = [r for r in rates if r is not None]
    return min(90, int(min(vals) // 10) * 10) if vals else 0
