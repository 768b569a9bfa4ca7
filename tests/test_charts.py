"""Chart specs and the grid mosaic against expectations built by hand."""
import math

import numpy as np
import torch

from gan_core import charts, render


def test_lines_are_long_rows_without_non_finite_values():
    history = {"step": [0, 1, 2], "loss_d": [1.0, float("nan"), 0.5], "loss_g": [2.0, 3.0, math.inf]}
    spec = charts.losses(history)
    assert spec["data"]["values"] == [
        {"step": 0, "series": "L_D", "value": 1.0}, {"step": 2, "series": "L_D", "value": 0.5},
        {"step": 0, "series": "L_G", "value": 2.0}, {"step": 1, "series": "L_G", "value": 3.0}]
    [line] = spec["layer"]
    assert line["encoding"]["y"]["field"] == "value" and "transform" not in line
    assert line["encoding"]["color"]["scale"] == {"domain": ["L_D", "L_G"], "range": ["#e4572e", "#2e86ab"]}


def test_smoothing_is_a_trailing_mean_per_series_and_markers_are_labelled_rules():
    # L_D 1, 2, (nan), 4, 8: the window is the value and the 2 finite values before it
    spec = charts.losses({"step": [0, 1, 2, 3, 4], "loss_d": [1.0, 2.0, float("nan"), 4.0, 8.0],
                          "loss_g": [1.0] * 5}, markers=[(1, "lr_g 0.001→0.002")], smoothing=2)
    line, rule, text = spec["layer"]
    assert line["encoding"]["y"]["field"] == "smoothed" and "transform" not in line
    d = [(r["step"], r["smoothed"]) for r in spec["data"]["values"] if r["series"] == "L_D"]
    assert d == [(0, 1.0), (1, 1.5), (3, 7 / 3), (4, 14 / 3)]
    assert all(r["smoothed"] == 1.0 for r in spec["data"]["values"] if r["series"] == "L_G")
    assert rule["data"] == text["data"] == {"values": [{"step": 1, "label": "lr_g 0.001→0.002"}]}
    assert rule["mark"]["type"] == "rule" and text["encoding"]["text"] == {"field": "label"}


def test_a_long_history_is_sent_as_at_most_max_points_a_line_spread_evenly_and_smoothed_before_thinning():
    n = 1000
    loss_d = [float(i % 2) for i in range(n)]            # 0, 1, 0, 1, ...: its smoothed value is near 1/2
    spec = charts.losses({"step": list(range(n)), "loss_d": loss_d, "loss_g": [2.0] * n}, smoothing=9)
    d = [r for r in spec["data"]["values"] if r["series"] == "L_D"]
    assert len(d) <= charts.MAX_POINTS < n and d[-1]["step"] == n - 1                # the newest kept
    gaps = {b["step"] - a["step"] for a, b in zip(d, d[1:])}
    assert len(gaps) == 1                                                           # evenly spread
    # the mean of 10 alternating values is 1/2 whatever is left out after: smoothed on every row
    assert all(r["smoothed"] == 0.5 for r in d[1:])
    assert all(r["value"] == loss_d[r["step"]] for r in d)                          # raw values kept
    assert len(charts.losses({"step": [0, 1], "loss_d": [1.0, 2.0], "loss_g": [1.0, 1.0]})["data"]["values"]) == 4


def test_of_markers_close_together_only_the_last_is_labelled_and_each_keeps_its_rule():
    # three key presses on a slider, a few steps apart, late in a 500-step run; one change at step 100
    markers = [(100, "lr_g 0.001→0.002"), (330, "lr_d a→b"), (333, "lr_d b→c"), (336, "lr_d c→d")]
    history = {"step": list(range(501)), "loss_d": [1.0] * 501, "loss_g": [1.0] * 501}
    _, rule, text = charts.losses(history, markers=markers)["layer"]
    assert [r["step"] for r in rule["data"]["values"]] == [100, 330, 333, 336]
    assert text["data"]["values"] == [{"step": 100, "label": "lr_g 0.001→0.002"}, {"step": 336, "label": "lr_d c→d"}]
    # far enough apart (6% of the chart's steps: 30 here), each is labelled
    spread = [(100, "a"), (130, "b"), (160, "c")]
    assert [r["label"] for r in charts.losses(history, markers=spread)["layer"][2]["data"]["values"]] == ["a", "b", "c"]


def test_log_charts_drop_values_that_a_log_scale_cannot_show():
    history = {"step": [0, 1, 2], "grad/G.net.0": [0.0, 1e-3, 2.0], "grad/D.net.0": [5.0, 5.0, 5.0]}
    spec = charts.grad_norms(history, "G")
    assert spec["data"]["values"] == [{"step": 1, "series": "net.0", "value": 1e-3},
                                      {"step": 2, "series": "net.0", "value": 2.0}]
    assert spec["layer"][0]["encoding"]["y"]["scale"] == {"type": "log"}


def test_d_outputs_chart_has_the_equilibrium_at_one_half():
    spec = charts.d_outputs({"step": [0], "d_real": [0.9], "d_fake": [0.1]})
    assert spec["layer"][-1]["data"] == {"values": [{"y": 0.5}]}
    assert spec["layer"][0]["encoding"]["y"]["scale"] == {"domain": [0, 1]}


def test_output_histograms_are_shares_of_each_batch_over_equal_bins():
    spec = charts.output_histograms({"step": 7, "real": [0, 1, 3], "fake": [2, 0, 0]})
    rows = spec["data"]["values"]
    third = 1 / 3
    assert rows == [
        {"lo": 0.0, "hi": third, "share": 0.0, "series": "D(x), real"},
        {"lo": third, "hi": 2 * third, "share": 0.25, "series": "D(x), real"},
        {"lo": 2 * third, "hi": 1.0, "share": 0.75, "series": "D(x), real"},
        {"lo": 0.0, "hi": third, "share": 1.0, "series": "D(G(z)), generated"},
        {"lo": third, "hi": 2 * third, "share": 0.0, "series": "D(G(z)), generated"},
        {"lo": 2 * third, "hi": 1.0, "share": 0.0, "series": "D(G(z)), generated"}]
    assert charts.output_histograms(None)["data"]["values"] == []


def test_the_game_chart_s_spec_stays_the_same_as_the_run_trains():
    # a browser updates a chart whose spec is unchanged in place, and builds it anew when it changed:
    # only the rows may change from one refresh to the next (the step was once in the title)
    first, later = {"step": 7, "real": [0, 1, 3], "fake": [2, 0, 0]}, {"step": 9, "real": [1, 1, 2], "fake": [1, 1, 0]}

    def game(reports):
        return charts.stacked(charts.output_histograms(reports[-1]), charts.output_heatmap(reports, "fake"),
                              charts.output_heatmap(reports, "real"))
    a, b = game([first]), game([first, later])
    assert a["data"] != b["data"]
    assert {k: v for k, v in a.items() if k != "data"} == {k: v for k, v in b.items() if k != "data"}


def test_heatmap_has_a_column_per_measurement():
    game = [{"step": 0, "real": [1, 1], "fake": [2, 0]}, {"step": 5, "real": [0, 4], "fake": [1, 3]}]
    rows = charts.output_heatmap(game, "fake")["data"]["values"]
    assert rows == [{"step": 0, "lo": 0.0, "hi": 0.5, "share": 1.0}, {"step": 0, "lo": 0.5, "hi": 1.0, "share": 0.0},
                    {"step": 5, "lo": 0.0, "hi": 0.5, "share": 0.25}, {"step": 5, "lo": 0.5, "hi": 1.0, "share": 0.75}]


def test_stacked_charts_are_one_chart_each_part_reading_its_own_rows_and_keeping_its_own_layers():
    history = {"step": [0, 1, 2], "loss_d": [1.0, 0.5, 0.7], "loss_g": [2.0, 3.0, 1.0],
               "d_real": [0.5, 0.8, 0.9], "d_fake": [0.5, 0.2, 0.3]}
    losses, d_outputs = charts.losses(history, [(1, "lr_g")], 2), charts.d_outputs(history, [(1, "lr_g")], 2)
    spec = charts.stacked(losses, d_outputs)
    rows = spec["data"]["values"]
    assert spec["autosize"] == charts.FIT_X["autosize"] and spec["resolve"]["scale"]["y"] == "independent"
    for i, (part, alone) in enumerate(zip(spec["vconcat"], (losses, d_outputs))):
        assert [{k: v for k, v in r.items() if k != "part"} for r in rows if r["part"] == i] == alone["data"]["values"]
        assert "data" not in part and "autosize" not in part and part["title"] == alone["title"]
        assert len(part["layer"]) == len(alone["layer"])
        for layer, before in zip(part["layer"], alone["layer"]):
            if "data" in before:        # the marker rules, the 1/2 line: their own rows, untouched
                assert layer == before
            else:                       # the lines: this part's rows only
                assert layer["transform"] == [{"filter": {"field": "part", "equal": i}}]
                assert {k: v for k, v in layer.items() if k != "transform"} == before
    # single views (the heatmaps) filter at the top of the part
    game = [{"step": 0, "real": [1, 1], "fake": [2, 0]}]
    heat = charts.stacked(charts.output_heatmap(game, "fake"), charts.output_heatmap(game, "real"))
    assert [p["transform"] for p in heat["vconcat"]] == [[{"filter": {"field": "part", "equal": i}}] for i in (0, 1)]
    assert [p["title"]["text"] for p in heat["vconcat"]] == [charts.output_heatmap([], w)["title"]["text"]
                                                              for w in ("fake", "real")]


def test_digit_histogram_flags_dropped_digits():
    shares = [0.1] * 8 + [0.19, 0.01]
    rows = charts.digit_histogram({"histogram": shares})["data"]["values"]
    assert [r["digit"] for r in rows] == [str(d) for d in range(10)]
    assert [r["dropped"] for r in rows] == [False] * 9 + [True]


def test_quality_charts_read_each_report():
    quality = [{"step": 10, "n": 256, "fid": 40.0, "fid_real_n": 4.0, "confident_share": 0.5, "near_copies": 0.0},
               {"step": 20, "n": 256, "fid": 20.0, "fid_real_n": 4.0, "confident_share": 0.8, "near_copies": 0.01}]
    fid = charts.frechet(quality)
    assert "N = 256" in fid["title"]["text"]
    assert [(r["step"], r["series"], r["value"]) for r in fid["data"]["values"]] == [
        (10, "G's samples", 40.0), (20, "G's samples", 20.0), (10, "real digits", 4.0), (20, "real digits", 4.0)]
    shares = charts.quality_shares(quality)["data"]["values"]
    assert {(r["step"], r["series"], r["value"]) for r in shares} == {
        (10, "legible digits", 0.5), (20, "legible digits", 0.8),
        (10, "near copies", 0.0), (20, "near copies", 0.01)}     # no log scale: a share of 0 is drawn
    assert len(shares) == 4


def _read(ipc: bytes):
    import pyarrow as pa
    return pa.ipc.open_stream(ipc).read_all()


def test_a_spec_as_sent_holds_its_rows_as_compact_arrow_with_the_same_values():
    import pyarrow as pa
    n = 700
    history = {"step": list(range(n)), "loss_d": [1 / (i + 1) for i in range(n)], "loss_g": [0.5 + i for i in range(n)]}
    spec = charts.losses(history, smoothing=3)
    sent = charts.arrow_spec(spec, str)
    assert sent["data"] == {"name": "rows"} and "values" not in str(sent["layer"])
    table = _read(sent["datasets"]["rows"])
    types = dict(zip(table.column_names, table.schema.types))
    assert types["step"] == pa.int32() and types["value"] == types["smoothed"] == pa.float32()
    assert pa.types.is_dictionary(types["series"])
    rows = spec["data"]["values"]
    got = table.to_pylist()
    assert [(r["step"], r["series"]) for r in got] == [(r["step"], r["series"]) for r in rows]
    for r, g in zip(rows, got):     # float32: seven significant digits, more than a chart draws
        assert math.isclose(g["value"], r["value"], rel_tol=1e-6) and math.isclose(g["smoothed"], r["smoothed"], rel_tol=1e-6)
    assert len(sent["datasets"]["rows"]) < 0.6 * len(_float64_ipc(rows))


def _float64_ipc(rows) -> bytes:
    import pyarrow as pa
    table, sink = pa.Table.from_pylist(rows), pa.BufferOutputStream()
    with pa.RecordBatchStreamWriter(sink, table.schema) as w:
        w.write_table(table)
    return sink.getvalue().to_pybytes()


def test_a_spec_as_sent_keeps_what_int32_cannot_hold_and_reads_uneven_rows():
    import pyarrow as pa
    rows = [{"step": 2**40, "value": 1.0}, {"step": 1, "value": None, "note": "x"}]
    table = _read(charts.arrow_rows(rows, str))
    assert table.schema.field("step").type == pa.int64()
    assert table.to_pylist() == [{"step": 2**40, "value": 1.0, "note": None}, {"step": 1, "value": None, "note": "x"}]
    assert _read(charts.arrow_rows([], str)).num_rows == 0


def test_grid_array_places_each_image_in_its_cell_with_padding():
    images = torch.zeros(3, 1, 28, 28)
    images[0, 0, 0, 0] = 1.0              # top-left pixel of the first image
    images[1] = 0.5                       # the second, all grey
    images[2, 0, 27, 27] = 2.0            # beyond 1: clipped to white
    out = render.grid_array(images, nrow=2, pad=2)
    expected = np.zeros((2 * 30 + 2, 2 * 30 + 2), dtype=np.uint8)   # 2 rows of 2 cells, 28 + pad each
    expected[2, 2] = 255
    expected[2:30, 32:60] = 128           # 0.5 * 255 rounded
    expected[32 + 27, 2 + 27] = 255
    assert out.dtype == np.uint8 and np.array_equal(out, expected)


def test_grid_array_squares_by_default_and_reads_arrays_and_nan():
    a = np.full((5, 28, 28), np.nan, dtype=np.float32)
    out = render.grid_array(a, pad=0)
    assert out.shape == (2 * 28, 3 * 28) and not out.any()   # ceil(sqrt(5)) = 3 per row; NaN as black
