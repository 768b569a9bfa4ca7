"""Vega-Lite specs (plain dicts) from a session's history: one spec per figure, no streamlit here."""
from __future__ import annotations

import math
from typing import Any

COLORS = {"L_D": "#e4572e", "L_G": "#2e86ab", "D(x)": "#e4572e", "D(G(z))": "#2e86ab"}


def _long(history: dict[str, list[float]], series: dict[str, str]) -> list[dict[str, Any]]:
    steps = history.get("step", [])
    rows = []
    for label, key in series.items():
        for s, v in zip(steps, history.get(key, [])):
            if math.isfinite(v):
                rows.append({"step": int(s), "series": label, "value": float(v)})
    return rows


def _markers(markers: list[tuple[int, str]]) -> list[dict[str, Any]]:
    return [{"step": int(s), "label": label} for s, label in markers]


def lines(history: dict[str, list[float]], series: dict[str, str], title: str, *,
          markers: list[tuple[int, str]] = (), smoothing: int = 0,
          y_domain: tuple[float, float] | None = None, height: int = 220) -> dict[str, Any]:
    """A line per series (label -> history key) against step, optionally smoothed by a trailing
    mean over `smoothing` points, with a labelled vertical rule wherever a setting changed."""
    y = {"field": "value", "type": "quantitative", "title": None}
    if y_domain:
        y["scale"] = {"domain": list(y_domain)}
    layer: dict[str, Any] = {
        "mark": {"type": "line", "strokeWidth": 2, "interpolate": "monotone"},
        "encoding": {
            "x": {"field": "step", "type": "quantitative", "title": "step"},
            "y": {**y, "field": "smoothed" if smoothing else "value"},
            "color": {"field": "series", "type": "nominal", "title": None,
                      "scale": {"domain": list(series), "range": [COLORS.get(k, "#888") for k in series]},
                      "legend": {"orient": "top", "direction": "horizontal"}},
            "tooltip": [{"field": "series"}, {"field": "step"}, {"field": "value", "format": ".4f"}],
        },
    }
    if smoothing:
        layer["transform"] = [{"window": [{"op": "mean", "field": "value", "as": "smoothed"}],
                               "frame": [-smoothing, 0], "groupby": ["series"], "sort": [{"field": "step"}]}]
    layers = [layer]
    if markers:
        rule_data = {"values": _markers(markers)}
        layers.append({"data": rule_data, "mark": {"type": "rule", "strokeDash": [4, 3], "color": "#999"},
                       "encoding": {"x": {"field": "step", "type": "quantitative"},
                                    "tooltip": [{"field": "label", "title": "changed"}]}})
        layers.append({"data": rule_data,
                       "mark": {"type": "text", "align": "left", "baseline": "top", "dx": 3, "dy": 2,
                                "fontSize": 10, "color": "#777", "limit": 160},
                       "encoding": {"x": {"field": "step", "type": "quantitative"}, "y": {"value": 0},
                                    "text": {"field": "label"}}})
    return {
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "title": {"text": title, "anchor": "start", "fontSize": 13},
        "height": height, "width": "container",
        "data": {"values": _long(history, series)},
        "layer": layers,
    }


def losses(history: dict[str, list[float]], markers=(), smoothing: int = 0) -> dict[str, Any]:
    return lines(history, {"L_D": "loss_d", "L_G": "loss_g"}, "Losses", markers=markers, smoothing=smoothing)


def d_outputs(history: dict[str, list[float]], markers=(), smoothing: int = 0) -> dict[str, Any]:
    spec = lines(history, {"D(x)": "d_real", "D(G(z))": "d_fake"}, "Mean D output: real vs generated",
                 markers=markers, smoothing=smoothing, y_domain=(0, 1))
    # the game's equilibrium: D can no longer tell, and says 1/2 to both
    spec["layer"].append({"data": {"values": [{"y": 0.5}]},
                          "mark": {"type": "rule", "color": "#bbb", "strokeDash": [2, 2]},
                          "encoding": {"y": {"field": "y", "type": "quantitative"}}})
    return spec
