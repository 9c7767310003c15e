"""``ganlab report DIR --plot``: each metric per setting, mean ± std over seeds; a curve along a swept number."""

from __future__ import annotations

import statistics

import pytest
from matplotlib.container import ErrorbarContainer
from PIL import Image

from ganlab.errors import GanlabError
from ganlab.report import collect
from ganlab.report_plot import report_figure
from tests.test_report import make_job


def axes_by_title(figure) -> dict:
    return {ax.get_title(): ax for ax in figure.axes}


def test_a_sweep_over_a_learning_rate_is_a_curve_per_loss_on_a_log_axis(tmp_path):
    fids = {
        ("gan", "0.0001"): [40, 44],
        ("gan", "0.001"): [30, 31],
        ("gan", "0.01"): [90, 70],
        ("lsgan", "0.001"): [25, 27],
    }
    for i, ((loss, lr), values) in enumerate(fids.items()):
        for seed, fid in enumerate(values):
            make_job(tmp_path, f"{i}_{seed}", [f"loss={loss}", f"optim.lr={lr}", f"seed={seed}"], {"fid": fid, "n": 8})
    figure = report_figure(collect(tmp_path))
    assert list(axes_by_title(figure)) == ["fid"]  # n is the same in every job: nothing to see
    ax = axes_by_title(figure)["fid"]
    assert ax.get_xscale() == "log" and ax.get_xlabel() == "optim.lr"
    curves = {curve.get_label(): curve.lines[0] for curve in ax.containers}  # one errorbar plot per loss
    assert set(curves) == {"loss=gan", "loss=lsgan"}
    assert list(curves["loss=gan"].get_xdata()) == [1e-4, 1e-3, 1e-2]
    assert list(curves["loss=gan"].get_ydata()) == [42, 30.5, 80]  # means over the seeds


def test_a_sweep_over_names_is_bars_with_the_seeds_spread(tmp_path):
    modes = {"gan": [2, 4, 3], "nsgan": [8, 7, 8]}
    for loss, values in modes.items():
        for seed, value in enumerate(values):
            make_job(tmp_path, f"{loss}_{seed}", [f"loss={loss}", f"seed={seed}"], {"modes_covered": value})
    ax = axes_by_title(report_figure(collect(tmp_path)))["modes_covered"]
    assert [bar.get_height() for bar in ax.patches] == [3, pytest.approx(23 / 3)]
    assert [tick.get_text() for tick in ax.get_xticklabels()] == ["loss=gan", "loss=nsgan"]
    (spread,) = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    (error_bars,) = spread.lines[2]
    spans = [segment[1, 1] - segment[0, 1] for segment in error_bars.get_segments()]
    assert spans == [pytest.approx(2 * statistics.stdev(v)) for v in modes.values()]


@pytest.mark.slow
def test_ganlab_report_plot_writes_the_png_next_to_the_table(run_ganlab, tmp_path):
    for seed in (1, 2):
        make_job(tmp_path / "sweep", str(seed), [f"truncation={seed / 2}"], {"fid": 10.0 * seed})
    out = run_ganlab("report", str(tmp_path / "sweep"), "--plot").stdout
    assert "truncation" in out and f"wrote {tmp_path / 'sweep' / 'report.png'}" in out
    assert Image.open(tmp_path / "sweep" / "report.png").size[0] > 300
    run_ganlab("report", str(tmp_path / "sweep"), "--plot", str(tmp_path / "elsewhere.png"))
    assert (tmp_path / "elsewhere.png").is_file()


def test_a_sweep_without_metrics_has_nothing_to_plot(tmp_path):
    make_job(tmp_path, "0", ["seed=1"], None)
    with pytest.raises(GanlabError, match="no finished job has metrics to plot"):
        report_figure(collect(tmp_path))
