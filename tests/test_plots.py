"""Tests of symgrad.views.plots: the numbers of the loss pictures, what is drawn, and the files."""

import math
import sys
import xml.etree.ElementTree as ElementTree

import pytest
from sympy import Rational

from symgrad import ACTIVATIONS, LOSSES, Neuron, Sample, worked_example
from symgrad.maths.derive import composed_loss
from symgrad.errors import SymgradError
from symgrad.maths.model import Layer, Network
from symgrad.views.plots import (CAPTIONS, EXTENSIONS, PLOTS, TITLES, MissingExtraError, PlotData,
                           figures, plot_data, require_matplotlib, save, svg_images)

TWO_INPUTS = Neuron(weights=["0.5", "-0.3"], bias="0.1", activation="sigmoid")
TWO_SAMPLES = [Sample(x=["2", "1"], y="0.9"), Sample(x=["-1", "0.5"], y="0.2")]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _example(steps=5):
    """A sigmoid neuron with two inputs and two samples, trained for ``steps`` steps."""
    return worked_example(TWO_INPUTS, TWO_SAMPLES, learning_rate="0.5", steps=steps)


def _mazur(**options):
    """The 2-2-2 sigmoid network of the classic step-by-step backpropagation example."""
    return Network(layers=[Layer([["0.15", "0.2"], ["0.25", "0.3"]], ["0.35", "0.35"]),
                           Layer([["0.4", "0.45"], ["0.5", "0.55"]], ["0.6", "0.6"])],
                   loss="half_squared", **options)


MAZUR_SAMPLE = Sample(x=["0.05", "0.1"], y=["0.01", "0.99"])


def _path_from_json(data, first, second):
    """The two parameters' values at every step and after the last, from the JSON data."""
    rows = [step["parameters"] for step in data["steps"]] + [data["final"]["parameters"]]
    return tuple((row[first]["value"], row[second]["value"]) for row in rows)


def _drawn(figure, gid):
    """The one artist of ``figure``'s main axes with this gid."""
    ax = figure.axes[0]
    found = [a for a in [*ax.lines, *ax.texts] if a.get_gid() == gid]
    assert len(found) == 1, gid
    return found[0]


def _central_difference(data: PlotData) -> float:
    """dL/dp at the current point from the slice's own neighbouring points."""
    mid = len(data.slice_grid) // 2
    x, y = data.slice_grid, data.slice_losses
    return (y[mid + 1] - y[mid - 1]) / (x[mid + 1] - x[mid - 1])


def test_plot_data_matches_the_json_numbers():
    """The loss curve, the slice's point and gradient, and the path are the JSON's numbers."""
    example = _example()
    data = example.to_data()
    plotted = plot_data(example.derivation)
    assert plotted.steps == (0, 1, 2, 3, 4, 5)
    assert list(plotted.losses[:-1]) == [step["loss_value"]["value"] for step in data["steps"]]
    assert plotted.losses[-1] == data["final"]["loss_value"]["value"]
    assert plotted.slice_parameter == "w1"
    assert plotted.slice_value == data["parameters"]["w1"]["value"]
    assert plotted.slice_gradient == data["gradients"]["w1"]["value"]
    assert plotted.slice_loss == data["loss_value"]["value"]
    assert plotted.surface_parameters == ("w1", "w2")
    assert plotted.path == _path_from_json(data, "w1", "w2")
    x, y, dx, dy = plotted.arrow
    assert (x, y) == plotted.path[0]
    assert (dx, dy) == (-0.5 * data["gradients"]["w1"]["value"],
                        -0.5 * data["gradients"]["w2"]["value"])


def test_the_surface_window_holds_the_path_and_the_arrow():
    """Every point of the descent path and the arrow's tip lie inside the surface's grid."""
    plotted = plot_data(_example().derivation)
    x, y, dx, dy = plotted.arrow
    for px, py in [*plotted.path, (x + dx, y + dy)]:
        assert plotted.surface_x[0] < px < plotted.surface_x[-1]
        assert plotted.surface_y[0] < py < plotted.surface_y[-1]
    assert len(plotted.surface_losses) == len(plotted.surface_y)
    assert {len(row) for row in plotted.surface_losses} == {len(plotted.surface_x)}


def test_the_surface_is_the_loss():
    """Grid points of the surface equal the exact composed loss there, b held at its value."""
    example = _example()
    plotted = plot_data(example.derivation)
    loss, (w1, w2, b) = composed_loss(TWO_INPUTS, TWO_SAMPLES)
    for row, column in ((0, 0), (30, 17), (60, 60)):
        x, y = plotted.surface_x[column], plotted.surface_y[row]
        exact = float(loss.subs({w1: x, w2: y, b: Rational("0.1")}))
        assert plotted.surface_losses[row][column] == pytest.approx(exact, rel=1e-12)


def test_the_tangent_touches_the_slice():
    """A central difference of the slice at the current point is the derivation's gradient."""
    for neuron, samples in ((TWO_INPUTS, TWO_SAMPLES),
                            (Neuron(weights="0.5", bias="0.1"), [Sample(x="2", y="1.5")])):
        plotted = plot_data(worked_example(neuron, samples).derivation)
        mid = len(plotted.slice_grid) // 2
        assert plotted.slice_grid[mid] == plotted.slice_value
        assert plotted.slice_losses[mid] == pytest.approx(plotted.slice_loss, rel=1e-12)
        assert _central_difference(plotted) == pytest.approx(plotted.slice_gradient, rel=1e-3)
        (x0, x1), (y0, y1) = plotted.tangent_x, plotted.tangent_y
        assert (y1 - y0) / (x1 - x0) == pytest.approx(plotted.slice_gradient, rel=1e-12)


def test_every_activation_and_loss_gives_finite_numbers():
    """Each activation and each loss has a finite slice and surface at the current point."""
    cases = [Neuron(weights="0.5", bias="0.1", activation=name) for name in ACTIVATIONS]
    # bce needs a prediction in (0, 1): a sigmoid output, with a target in [0, 1].
    cases += [Neuron(weights="0.5", bias="0.1", activation="sigmoid", loss=name)
              for name in LOSSES]
    for neuron in cases:
        sample = Sample(x="2", y="0.8" if neuron.activation == "sigmoid" else "1.5")
        plotted = plot_data(worked_example(neuron, sample, steps=3).derivation)
        mid = len(plotted.slice_grid) // 2
        label = f"{neuron.activation} {neuron.loss}"
        assert all(math.isfinite(v) for v in (plotted.slice_value, plotted.slice_loss,
                                              plotted.slice_gradient, plotted.slice_step_loss,
                                              *plotted.losses)), label
        assert plotted.slice_losses[mid] == pytest.approx(plotted.slice_loss, rel=1e-12), label
        # Away from kinks (z = 1.1 > 0, ŷ ≠ y) the slice's slope is the gradient.
        assert _central_difference(plotted) == pytest.approx(plotted.slice_gradient,
                                                             rel=2e-3, abs=1e-9), label
        near = [row[c] for row in plotted.surface_losses[25:36] for c in range(25, 36)]
        assert all(math.isfinite(v) for v in near), label


def test_cross_entropy_undefined_parts_are_nan_not_errors():
    """Where bce is undefined (a ReLU output of 0 or above 1) the slice holds nan, not a crash."""
    neuron = Neuron(weights="0.2", bias="0.1", activation="relu", loss="bce")
    plotted = plot_data(worked_example(neuron, Sample(x="2", y="0.6")).derivation)
    assert math.isfinite(plotted.slice_loss)
    assert any(math.isnan(v) for v in plotted.slice_losses)
    assert any(math.isfinite(v) for v in plotted.slice_losses)


def test_network_surface_skips_a_frozen_parameter():
    """A network's surface spans its first two moving parameters and its path is one step."""
    example = worked_example(_mazur(frozen=("w1_11",)), MAZUR_SAMPLE, learning_rate="0.5")
    data = example.to_data()
    plotted = plot_data(example.derivation)
    assert plotted.steps == (0, 1)
    assert plotted.losses == (data["loss_value"]["value"], data["loss_after"]["value"])
    assert plotted.slice_parameter == "w1_1_2"
    assert plotted.slice_gradient == data["gradients"]["w1_1_2"]["value"]
    assert plotted.surface_parameters == ("w1_1_2", "w1_2_1")
    assert plotted.path == tuple((data[key]["w1_1_2"]["value"], data[key]["w1_2_1"]["value"])
                                 for key in ("parameters", "updated"))
    assert plotted.slice_losses[len(plotted.slice_grid) // 2] == pytest.approx(
        data["loss_value"]["value"], rel=1e-12)
    assert _central_difference(plotted) == pytest.approx(plotted.slice_gradient, rel=1e-3)


def test_a_frozen_network_stays_put():
    """With every parameter frozen the path stays at the start and the arrow has no length."""
    plotted = plot_data(worked_example(_mazur(frozen=("w", "b")), MAZUR_SAMPLE).derivation)
    assert plotted.path[0] == plotted.path[1]
    assert plotted.arrow[2:] == (0.0, 0.0)
    assert plotted.slice_step == plotted.slice_value


def test_one_parameter_has_no_surface():
    """A neuron with one weight and no bias has a curve and a slice but no surface."""
    plotted = plot_data(worked_example(Neuron(weights="0.5", bias=None),
                                       Sample(x="2", y="1.5")).derivation)
    assert not plotted.has_surface
    assert plotted.surface_parameters is None and plotted.path is None
    assert plotted.slice_parameter == "w" and plotted.slice_held == ()


def test_drawn_figures_show_the_json_numbers():
    """The lines actually drawn carry the JSON's losses, gradient and path."""
    pytest.importorskip("matplotlib")
    example = _example()
    data = example.to_data()
    drawn = figures(example.derivation)
    assert list(drawn) == list(PLOTS)

    curve = _drawn(drawn["loss_curve"], "loss_curve")
    assert list(curve.get_xdata()) == list(range(6))
    assert list(curve.get_ydata()) == ([step["loss_value"]["value"] for step in data["steps"]]
                                       + [data["final"]["loss_value"]["value"]])

    tangent = _drawn(drawn["loss_slice"], "tangent")
    (x0, x1), (y0, y1) = tangent.get_xdata(), tangent.get_ydata()
    assert (y1 - y0) / (x1 - x0) == pytest.approx(data["gradients"]["w1"]["value"], rel=1e-12)
    current = _drawn(drawn["loss_slice"], "current")
    assert (current.get_xdata()[0], current.get_ydata()[0]) == (
        data["parameters"]["w1"]["value"], data["loss_value"]["value"])
    legend = [t.get_text() for t in drawn["loss_slice"].axes[0].get_legend().get_texts()]
    gradient = data["gradients"]["w1"]["value"]
    assert any(rf"\partial L/\partial w_{{1}} \approx {gradient:.4g}$" in t for t in legend)

    path = _drawn(drawn["loss_surface"], "path")
    assert tuple(zip(path.get_xdata(), path.get_ydata())) == _path_from_json(data, "w1", "w2")
    arrow = _drawn(drawn["loss_surface"], "arrow")
    (tail_x, tail_y), (tip_x, tip_y) = arrow.xyann, arrow.xy
    assert [tail_x, tail_y] == path.get_xydata()[0].tolist()
    assert tip_x - tail_x == pytest.approx(-0.5 * data["gradients"]["w1"]["value"], rel=1e-12)
    assert tip_y - tail_y == pytest.approx(-0.5 * data["gradients"]["w2"]["value"], rel=1e-12)
    axes = drawn["loss_surface"].axes[0]
    assert axes.get_xlabel() == "parameter $w_{1}$"
    assert axes.get_ylabel() == "parameter $w_{2}$"


def test_one_parameter_figures_have_no_surface():
    """Without two moving parameters figures has no loss_surface key."""
    pytest.importorskip("matplotlib")
    drawn = figures(worked_example(Neuron(weights="0.5", bias=None),
                                   Sample(x="2", y="1.5")).derivation)
    assert sorted(drawn) == ["loss_curve", "loss_slice"]


def test_save_writes_svg_and_png_files_deterministically(tmp_path):
    """save writes an SVG and a PNG per picture, the same bytes every time, as svg_images."""
    pytest.importorskip("matplotlib")
    derivation = worked_example(steps=5).derivation
    paths = save(derivation, tmp_path, "seed")
    assert [p.name for p in paths] == [f"seed_{name}{ext}" for name in PLOTS
                                       for ext in EXTENSIONS]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in paths)
    first = {p.name: p.read_bytes() for p in paths}
    for path in paths:
        content = first[path.name]
        assert len(content) > 5000, path.name
        if path.suffix == ".svg":
            assert ElementTree.fromstring(content).tag.endswith("svg")
        else:
            assert content.startswith(PNG_SIGNATURE)
    again = save(derivation, tmp_path, "seed")
    for path in again:
        if path.suffix == ".svg":
            assert path.read_bytes() == first[path.name], path.name
    # A page embeds the same SVG bytes as the files hold.
    images = svg_images(derivation)
    assert list(images) == list(PLOTS) and set(TITLES) == set(CAPTIONS) == set(PLOTS)
    assert all(images[name] == first[f"seed_{name}.svg"] for name in PLOTS)


def test_save_without_a_surface_writes_four_files(tmp_path):
    """A one-parameter neuron saves only the curve and the slice."""
    pytest.importorskip("matplotlib")
    derivation = worked_example(Neuron(weights="0.5", bias=None), Sample(x="2", y="1.5"))
    paths = save(derivation.derivation, tmp_path, "one")
    assert [p.name for p in paths] == ["one_loss_curve.svg", "one_loss_curve.png",
                                       "one_loss_slice.svg", "one_loss_slice.png"]


def test_save_refuses_a_missing_folder_or_a_path_as_stem(tmp_path):
    """The folder must exist and the stem must be a plain file name."""
    derivation = worked_example().derivation
    with pytest.raises(SymgradError, match="does not exist"):
        save(derivation, tmp_path / "missing", "seed")
    with pytest.raises(SymgradError, match="plain file name"):
        save(derivation, tmp_path, "sub/seed")


def test_missing_matplotlib_is_a_clear_error(monkeypatch):
    """Without matplotlib (or numpy), drawing names the extra to install; plot_data works."""
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "numpy", None)
    hint = r"plots need matplotlib, an optional extra: pip install 'symgrad\[plot\]'"
    with pytest.raises(MissingExtraError, match=hint):
        require_matplotlib()
    derivation = worked_example().derivation
    with pytest.raises(MissingExtraError, match=hint):
        figures(derivation)
    assert issubclass(MissingExtraError, SymgradError)
    assert plot_data(derivation).losses == (0.16, 0.0)
