"""Vega-Lite specs (plain dicts) from a session's history: one spec per figure, no streamlit here.

Their words are i18n Messages (English as str); arrow_spec gives a spec as a page sends it: translated,
its rows as Arrow bytes."""
from __future__ import annotations

import itertools
import math
from typing import Any, Callable

from .i18n import Message, msg, translate_tree

# "height" is the plot area's, as in plain Vega-Lite; only the width follows the page column (Streamlit's
# default "fit" squeezed the plot into what the title, legend and axes left of the height)
FIT_X = {"autosize": {"type": "fit-x", "contains": "padding"}}
COLORS = {"L_D": "#e4572e", "L_G": "#2e86ab", "D(x)": "#e4572e", "D(G(z))": "#2e86ab"}
STEP, VALUE, SHARE = msg("step"), msg("value"), msg("share")
REAL, FAKE = msg("D(x), real"), msg("D(G(z)), generated")


MAX_POINTS = 300   # per line: a chart is a few hundred pixels wide, and every page is sent every row


def _long(history: dict[str, list[float]], series: dict[str, str], smoothing: int = 0) -> list[dict[str, Any]]:
    """Rows {"step", "series", "value"} of each series' finite values, at most MAX_POINTS of each,
    evenly spread and the newest kept. With `smoothing`, each row also has "smoothed": the trailing
    mean of the value and the `smoothing` finite values before it, taken before any row is left out."""
    steps = history.get("step", [])
    rows = []
    for label, key in series.items():
        points = [(int(s), float(v)) for s, v in zip(steps, history.get(key, []))
                  if v is not None and math.isfinite(v)]
        sums = [0.0]
        for _, v in points:
            sums.append(sums[-1] + v)
        for i in _spread(len(points), MAX_POINTS):
            row = {"step": points[i][0], "series": label, "value": points[i][1]}
            if smoothing:
                lo = max(0, i - smoothing)
                row["smoothed"] = (sums[i + 1] - sums[lo]) / (i + 1 - lo)
            rows.append(row)
    return rows


def _spread(n: int, most: int) -> range:
    """Indices of n items, every k-th, at most `most` of them, ending with the last."""
    k = max(1, math.ceil(n / most))
    return range((n - 1) % k, n, k)


def _markers(markers: list[tuple[int, str]]) -> list[dict[str, Any]]:
    return [{"step": int(s), "label": label} for s, label in markers]


LABEL_GAP = 0.06   # a marker's label is written only this share of the chart's steps before the next


def _labelled(rows: list[dict[str, Any]], last_step: int) -> list[dict[str, Any]]:
    """The marker rows (_markers) whose label is written on the chart: a slider dragged or stepped by
    keys makes a change every few steps, and their labels overlapped into an unreadable smear. Of
    markers closer together than LABEL_GAP of the chart, the last one's label is written; each keeps
    its rule and its tooltip."""
    gap = LABEL_GAP * max(last_step, 1)
    return [r for r, nxt in zip(rows, rows[1:] + [None]) if nxt is None or nxt["step"] - r["step"] >= gap]


def lines(history: dict[str, list[float]], series: dict[str, str], title: str, *,
          markers: list[tuple[int, str]] = (), smoothing: int = 0,
          y_domain: tuple[float, float] | None = None, height: int = 220, log: bool = False,
          legend: str = "top", points: bool = False) -> dict[str, Any]:
    """A line per series (label -> history key) against step, optionally smoothed by a trailing
    mean over `smoothing` points, with a labelled vertical rule wherever a setting changed.
    `points`: for sparse measurements, each one marked and joined by straight lines (a smooth
    curve through a handful of points shows a trend nobody measured)."""
    y: dict[str, Any] = {"field": "value", "type": "quantitative", "title": None}
    if y_domain:
        y["scale"] = {"domain": list(y_domain)}
    if log:
        y["scale"] = {**y.get("scale", {}), "type": "log"}
    # the project's colours where it has them, else a categorical scheme (one line per layer)
    color_scale = ({"domain": list(series), "range": [COLORS[k] for k in series]}
                   if all(k in COLORS for k in series) else {"domain": list(series), "scheme": "tableau10"})
    layer: dict[str, Any] = {
        "mark": {"type": "line", "strokeWidth": 2, "interpolate": "linear" if points else "monotone",
                 "point": points},
        "encoding": {
            "x": {"field": "step", "type": "quantitative", "title": STEP},
            "y": {**y, "field": "smoothed" if smoothing else "value"},
            "color": {"field": "series", "type": "nominal", "title": None,
                      "scale": color_scale, "legend": {"orient": legend, "direction": "horizontal"}},
            "tooltip": [{"field": "series", "title": " "}, {"field": "step", "title": STEP},
                        {"field": "value", "format": ".4f", "title": VALUE}],
        },
    }
    layers = [layer]
    if markers:
        rule_data = {"values": _markers(markers)}
        layers.append({"data": rule_data, "mark": {"type": "rule", "strokeDash": [4, 3], "color": "#999"},
                       "encoding": {"x": {"field": "step", "type": "quantitative"},
                                    "tooltip": [{"field": "label", "title": msg("changed")}]}})
        last_step = max([int(x) for x in history.get("step", [])[-1:]] + [s for s, _ in markers])
        layers.append({"data": {"values": _labelled(rule_data["values"], last_step)},
                       "mark": {"type": "text", "align": "left", "baseline": "top", "dx": 3, "dy": 2,
                                "fontSize": 10, "color": "#777", "limit": 160},
                       "encoding": {"x": {"field": "step", "type": "quantitative"}, "y": {"value": 0},
                                    "text": {"field": "label"}}})
    return {
        "title": {"text": title, "anchor": "start", "fontSize": 13},
        "height": height, "width": "container", **FIT_X,
        "data": {"values": [r for r in _long(history, series, smoothing) if not log or r["value"] > 0]},
        "layer": layers,
    }


def losses(history: dict[str, list[float]], markers=(), smoothing: int = 0) -> dict[str, Any]:
    return lines(history, {"L_D": "loss_d", "L_G": "loss_g"}, msg("Losses"), markers=markers, smoothing=smoothing)


def d_outputs(history: dict[str, list[float]], markers=(), smoothing: int = 0) -> dict[str, Any]:
    spec = lines(history, {"D(x)": "d_real", "D(G(z))": "d_fake"}, msg("Mean D output: real vs generated"),
                 markers=markers, smoothing=smoothing, y_domain=(0, 1))
    # the game's equilibrium: D can no longer tell, and says 1/2 to both
    spec["layer"].append({"data": {"values": [{"y": 0.5}]},
                          "mark": {"type": "rule", "color": "#bbb", "strokeDash": [2, 2]},
                          "encoding": {"y": {"field": "y", "type": "quantitative"}}})
    return spec


# -- backprop made visible -------------------------------------------------------------------------------
def _layer_series(columns: dict[str, list[float]], prefix: str) -> dict[str, str]:
    # "grad/G.net.0" -> "net.0"; the model's tag is in the title
    return {k[len(prefix):]: k for k in columns if k.startswith(prefix)}


def grad_norms(history: dict[str, list[float]], tag: str, markers=()) -> dict[str, Any]:
    """||∂L/∂w|| of each layer of G or D (tag) against step, log scale."""
    title = msg("Gradient norm per layer of G (from L_G)") if tag == "G" else msg("Gradient norm per layer of D (from L_D)")
    return lines(history, _layer_series(history, f"grad/{tag}."), title,
                 markers=markers, log=True, height=200)


def update_ratios(updates: dict[str, list[float]]) -> dict[str, Any]:
    """||Δw|| / ||w|| per layer of both models: how far one step moves each layer, log scale."""
    series = {k: k for k in updates if k != "step"}
    return lines(updates, series, msg("Weight-update ratio ||Δw|| / ||w|| per step"), log=True, height=200)


# -- the game: D's outputs as distributions ----------------------------------------------------------
def _bin_rows(counts: list[int], series: str) -> list[dict[str, Any]]:
    bins, total = len(counts), max(1, sum(counts))
    return [{"lo": i / bins, "hi": (i + 1) / bins, "share": c / total, "series": series}
            for i, c in enumerate(counts)]


def output_histograms(game: dict | None) -> dict[str, Any]:
    """The latest histograms of D's outputs on a real and a generated batch, overlaid."""
    rows = [] if not game else _bin_rows(game["real"], REAL) + _bin_rows(game["fake"], FAKE)
    # the title stays the same from one refresh to the next (it named the step once): a browser
    # updates a chart whose spec is unchanged in place, and builds it anew when it changed
    title = msg("What D says, latest batch")
    return {
        "title": {"text": title, "anchor": "start", "fontSize": 13},
        "height": 200, "width": "container", **FIT_X, "data": {"values": rows},
        "mark": {"type": "rect", "opacity": 0.55},
        "encoding": {
            "x": {"field": "lo", "type": "quantitative", "title": msg("D's output (sigmoid of its logit)"),
                  "scale": {"domain": [0, 1]}},
            "x2": {"field": "hi"},
            "y": {"field": "share", "type": "quantitative", "title": msg("share of batch"), "stack": None},
            "color": {"field": "series", "type": "nominal", "title": None,
                      "scale": {"domain": [REAL, FAKE], "range": [COLORS["D(x)"], COLORS["D(G(z))"]]},
                      "legend": {"orient": "top", "direction": "horizontal"}},
            "tooltip": [{"field": "series", "title": " "}, {"field": "lo", "format": ".2f", "title": msg("D's output")},
                        {"field": "share", "format": ".0%", "title": SHARE}],
        },
    }


def output_heatmap(game: list[dict], which: str) -> dict[str, Any]:
    """D's output histogram on real ("real") or generated ("fake") batches over time: a column per
    measurement, darker where more of the batch fell."""
    rows = []
    for g in game:
        total = max(1, sum(g[which]))
        bins = len(g[which])
        rows += [{"step": g["step"], "lo": i / bins, "hi": (i + 1) / bins, "share": c / total}
                 for i, c in enumerate(g[which])]
    title = msg("D(x) on real digits, over time") if which == "real" else msg("D(G(z)) on generated digits, over time")
    return {
        "title": {"text": title, "anchor": "start", "fontSize": 13},
        "height": 160, "width": "container", **FIT_X, "data": {"values": rows},
        "mark": {"type": "rect"},
        "encoding": {
            "x": {"field": "step", "type": "ordinal", "title": STEP,
                  "axis": {"labelOverlap": "greedy", "labelAngle": 0}},
            "y": {"field": "lo", "type": "quantitative", "title": msg("D's output"), "scale": {"domain": [0, 1]}},
            "y2": {"field": "hi"},
            "color": {"field": "share", "type": "quantitative", "title": SHARE,
                      "scale": {"scheme": "reds" if which == "real" else "blues"}, "legend": None},
            "tooltip": [{"field": "step", "title": STEP}, {"field": "lo", "format": ".2f", "title": msg("D's output")},
                        {"field": "share", "format": ".0%", "title": SHARE}],
        },
    }


# -- quality ------------------------------------------------------------------------------------------
def digit_histogram(report: dict | None, floor: float = 0.02) -> dict[str, Any]:
    """Which digits the judge reads in G's samples; a bar below `floor` is a digit G has dropped."""
    shares = report["histogram"] if report else []
    rows = [{"digit": str(d), "share": v, "dropped": v < floor} for d, v in enumerate(shares)]
    return {
        "title": {"text": msg("Digits the judge reads in G's samples"), "anchor": "start", "fontSize": 13},
        "height": 200, "width": "container", **FIT_X, "data": {"values": rows},
        "layer": [
            {"mark": {"type": "bar"},
             "encoding": {"x": {"field": "digit", "type": "ordinal", "title": None, "axis": {"labelAngle": 0}},
                          "y": {"field": "share", "type": "quantitative", "title": SHARE, "axis": {"format": "%"}},
                          "color": {"field": "dropped", "type": "nominal", "legend": None,
                                    "scale": {"domain": [False, True], "range": ["#2e86ab", "#e4572e"]}},
                          "tooltip": [{"field": "digit", "title": msg("digit")}, {"field": "share", "format": ".1%", "title": SHARE}]}},
            {"data": {"values": [{"y": 0.1}]}, "mark": {"type": "rule", "color": "#999", "strokeDash": [4, 3]},
             "encoding": {"y": {"field": "y", "type": "quantitative"}}},   # a fair share: 1 in 10
        ],
    }


def _quality_columns(quality: list[dict], keys: list[str]) -> dict[str, list[float]]:
    return {"step": [q["step"] for q in quality], **{k: [q.get(k, float("nan")) for q in quality] for k in keys}}


def frechet(quality: list[dict]) -> dict[str, Any]:
    """The Fréchet distance of G's samples to held-out digits over time, and what real digits score."""
    cols = _quality_columns(quality, ["fid", "fid_real_n"])
    n = quality[-1]["n"] if quality else 0
    return lines(cols, {msg("G's samples"): "fid", msg("real digits"): "fid_real_n"},
                 msg("Fréchet distance in judge features (N = {n}), lower is better", n=n), log=True, height=200,
                 points=True)


def quality_shares(quality: list[dict]) -> dict[str, Any]:
    cols = _quality_columns(quality, ["confident_share", "near_copies"])
    return lines(cols, {msg("legible digits"): "confident_share", msg("near copies"): "near_copies"},
                 msg("Shares of G's samples"), y_domain=(0, 1), height=200, points=True, legend="bottom")


# -- several charts as one ------------------------------------------------------------------------------
def stacked(*specs: dict[str, Any]) -> dict[str, Any]:
    """Single or layered charts one under another as one chart (a Vega-Lite vconcat) over one table,
    each part reading its own rows (a "part" column): a page draws one element where it drew several,
    at every refresh. Each keeps its title, size, layers and colour scale."""
    parts, rows = [], []
    for i, spec in enumerate(specs):
        rows += [{**r, "part": i} for r in spec["data"]["values"]]
        mine = {"filter": {"field": "part", "equal": i}}
        part = {k: v for k, v in spec.items() if k not in ("data", "autosize")}
        if "layer" in part:     # the layers that read the part's rows; a layer with data of its own keeps it
            part["layer"] = [l if "data" in l else {**l, "transform": [mine, *l.get("transform", [])]}
                             for l in part["layer"]]
        else:
            part["transform"] = [mine, *part.get("transform", [])]
        parts.append(part)
    independent = {"scale": {c: "independent" for c in ("x", "y", "color")}}
    return {**FIT_X, "data": {"values": rows}, "vconcat": parts, "resolve": independent}


# -- as a page sends it ----------------------------------------------------------------------------------
def arrow_spec(spec: dict[str, Any], gettext_: Callable[[str], str]) -> dict[str, Any]:
    """The spec in a visitor's language, its rows as Arrow IPC bytes in a named dataset: Streamlit
    passes bytes through as they are, so a spec shared by many pages costs each no conversion (a list
    of dicts goes through pandas at every page's every refresh, even an empty one)."""
    data = spec.get("data", {})
    rows = data.get("values")
    if rows is None:
        return translate_tree(spec, gettext_)
    # the rows are left out of the walk: translating them row by row cost more than all the rest
    out = translate_tree({**spec, "data": {k: v for k, v in data.items() if k != "values"}}, gettext_)
    return {**out, "data": {**out["data"], "name": "rows"}, "datasets": {"rows": arrow_rows(rows, gettext_)}}


def arrow_rows(rows: list[dict[str, Any]], gettext_: Callable[[str], str]) -> bytes:
    """Rows as one Arrow record batch, compact: whole numbers as int32 where they fit, other numbers as
    float32 (a chart's pixels and tooltips need no more), texts dictionary-encoded, each distinct
    label translated once. Every page is sent every row at every refresh."""
    import pyarrow as pa    # here, not at the top: the page's first paint imports this module

    columns = {}
    for name in dict.fromkeys(itertools.chain.from_iterable(rows)):    # every row's keys, in order
        values = [r.get(name) for r in rows]
        a = pa.array(values)            # a Message is a str: its English text
        if pa.types.is_integer(a.type):
            try:
                a = a.cast(pa.int32())
            except pa.ArrowInvalid:     # past int32: kept as it is
                pass
        elif pa.types.is_floating(a.type):
            a = a.cast(pa.float32(), safe=False)
        elif pa.types.is_string(a.type):
            said = {v: v.translate(gettext_) for v in values if isinstance(v, Message)}
            a = a.dictionary_encode()
            if said:
                words = [said.get(w, w) for w in a.dictionary.to_pylist()]
                a = pa.DictionaryArray.from_arrays(a.indices, pa.array(words, pa.string()))
        columns[name] = a
    table = pa.table(columns)
    sink = pa.BufferOutputStream()
    with pa.RecordBatchStreamWriter(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()
