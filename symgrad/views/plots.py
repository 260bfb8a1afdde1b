"""Pictures of the loss for a worked derivation, each teaching one idea.

* ``loss_curve``: the loss before each training step and after the last one.
  Gradient descent lowers the loss, quickly while the gradient is large and more
  slowly as it shrinks near a minimum; a loss that rises says the learning rate is
  too large.
* ``loss_slice``: the loss as a function of one parameter, with the others held at
  their current values. The gradient ``∂L/∂w`` is the slope of the tangent at the
  current point, and the step ``w - α·∂L/∂w`` goes downhill along it.
* ``loss_surface``: the loss over two parameters as a contour map. The negative
  gradient (the first step, ``-α∇L``) crosses the contour lines downhill, and the
  path of gradient descent follows it. It is drawn only when two parameters move.

:func:`plot_data` computes every number with SymPy and Python's ``math`` alone, so it
needs neither NumPy nor a plotting library. :func:`figures` draws those numbers and
nothing else; :func:`save` writes the figures as SVG and PNG files, and
:func:`svg_images` gives the SVG bytes to embed in a page. Drawing needs matplotlib,
an optional extra: ``pip install 'symgrad[plot]'``.
"""

from __future__ import annotations

import io
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sympy import Expr, exp, lambdify, latex

from ..maths.activations import sigmoid
from ..maths.derive import composed_loss
from ..errors import SymgradError
from ..files import write_files
from ..maths.model import Given, decimal, latex_decimal, numeric
from ..maths.records import Derivation
from ..words import N_

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["PLOTS", "EXTENSIONS", "TITLES", "CAPTIONS", "MissingExtraError", "PlotData",
           "require_matplotlib", "plot_data", "figures", "save", "plot_files", "svg_images"]

PLOTS = ("loss_curve", "loss_slice", "loss_surface")
EXTENSIONS = (".svg", ".png")
# What each picture shows, as a document's caption or an image's alt text.
TITLES = {
    "loss_curve": N_("The loss during training"),
    "loss_slice": N_("The loss along one parameter, with its tangent at the current point"),
    "loss_surface": N_("The loss over two parameters, with the path of gradient descent"),
}
# What each picture teaches, in a sentence a document may print below it.
CAPTIONS = {
    "loss_curve": N_("Each step of gradient descent should lower the loss, quickly while the "
                  "gradient is large and more slowly as it shrinks; a rising loss means the "
                  "learning rate is too large."),
    "loss_slice": N_("The gradient is the slope of the tangent at the current point; the step "
                  "moves the parameter against it, downhill."),
    "loss_surface": N_("The negative gradient crosses the contour lines downhill, and gradient "
                    "descent follows it step by step (other parameters held at their "
                    "starting values)."),
}

# The slice has this many points; an odd number puts the middle one at the current value.
SLICE_POINTS = 121
# The surface grid has this many points along each side.
SURFACE_POINTS = 61
# The slice spans at least ±1 around the current value, so its curvature shows.
MIN_SLICE_HALF_WIDTH = 1.0
# The surface spans at least ±0.5 around the path, so a short first step still has a landscape.
MIN_SURFACE_HALF_WIDTH = 0.5
# How far the surface window reaches beyond the path, as a fraction of the path's extent.
SURFACE_MARGIN = 0.3
# Small figures that fit beside text in a lesson.
FIGURE_SIZE = (5.0, 3.5)
# Pixels per inch of the PNG files.
DPI = 150
# Fixed, so the ids inside an SVG (and so its bytes) are the same on every run.
SVG_HASH_SALT = "symgrad"
# Curves with more points than this are drawn without markers, which would crowd.
MAX_MARKERS = 60
# Okabe–Ito colours, told apart with the common colour-vision deficiencies.
BLUE, VERMILLION, ORANGE, GREEN, BLACK = "#0072B2", "#D55E00", "#E69F00", "#009E73", "#000000"


class MissingExtraError(SymgradError):
    """An optional extra that is not installed, such as matplotlib for the plots."""


def require_matplotlib():
    """The ``matplotlib`` module, or a MissingExtraError with the command that installs it.

    Figures are built with ``matplotlib.figure.Figure`` directly, never through pyplot,
    so symgrad leaves a notebook's backend and global figure list alone.

    >>> require_matplotlib().__name__
    'matplotlib'
    """
    try:
        import matplotlib
        import matplotlib.figure  # noqa: F401 - the figure class symgrad draws with
    except ImportError:
        raise MissingExtraError("plots need matplotlib, an optional extra: "
                                "pip install 'symgrad[plot]'") from None
    return matplotlib


@dataclass(frozen=True, slots=True)
class PlotData:
    """Every number the three pictures show, as floats and tuples (``nan`` where the loss
    is undefined, such as log(0) in cross-entropy).

    Loss curve: ``losses[k]`` is the loss after ``steps[k]`` updates.
    Slice: the loss along ``slice_parameter`` with the others held, its value, loss and
    gradient at the current point, the tangent's endpoints, and the point one step away.
    Surface (``None`` without two moving parameters): the loss over ``surface_parameters``
    on the grid ``surface_x`` × ``surface_y`` (``surface_losses[row][column]``, a row per
    y), the descent ``path`` and the first step's ``arrow`` ``(x, y, dx, dy)``.
    Labels are mathtext (``$w$``); ``slice_held`` and ``surface_held`` label the parameters
    held at their values; ``slice_gradient_text`` is ``= -1.6`` or ``\\approx 0.2689``;
    ``loss_title`` is the loss's name.
    """

    loss_title: str
    learning_rate: float
    steps: tuple[int, ...]
    losses: tuple[float, ...]
    slice_parameter: str
    slice_label: str
    slice_value: float
    slice_loss: float
    slice_gradient: float
    slice_gradient_text: str
    slice_held: tuple[str, ...]
    slice_held_values: tuple[float, ...]
    slice_grid: tuple[float, ...]
    slice_losses: tuple[float, ...]
    tangent_x: tuple[float, float]
    tangent_y: tuple[float, float]
    slice_step: float
    slice_step_loss: float
    surface_parameters: tuple[str, str] | None = None
    surface_labels: tuple[str, str] | None = None
    surface_held: tuple[str, ...] = ()
    surface_held_values: tuple[float, ...] = ()
    surface_x: tuple[float, ...] | None = None
    surface_y: tuple[float, ...] | None = None
    surface_losses: tuple[tuple[float, ...], ...] | None = None
    path: tuple[tuple[float, float], ...] | None = None
    arrow: tuple[float, float, float, float] | None = None

    @property
    def has_surface(self) -> bool:
        """Whether two parameters move, so there is a surface to draw."""
        return self.surface_losses is not None


def _float(value: Expr) -> float:
    """A float of an exact value, as the JSON data gives it (named exact values included)."""
    return float(numeric(value, 17))


def _loss_function(derivation: Derivation):
    """The loss as a float function of every parameter, in ``parameter_names`` order,
    giving nan where it is undefined. Plain Python ``math``, so plot_data needs no extra."""
    expr, symbols = composed_loss(derivation.model, derivation.samples)
    # Python's math knows neither the display σ nor a shown number: both become plain maths.
    expr = expr.replace(sigmoid, lambda z: 1 / (1 + exp(-z)))
    expr = expr.xreplace({given: given.value for given in expr.atoms(Given)})
    # cse: a network's composed loss repeats each hidden activation many times.
    function = lambdify(symbols, expr, modules="math", cse=True)

    def loss(*values: float) -> float:
        try:
            result = float(function(*values))
        # log(0) or of a negative number, overflow, a complex root: no loss there.
        except (ArithmeticError, ValueError, TypeError):
            return math.nan
        return result if math.isfinite(result) else math.nan

    return loss


def _evenly(centre: float, half: float, count: int) -> list[float]:
    """``count`` evenly spaced points from ``centre - half`` to ``centre + half``, the
    middle one exactly ``centre`` (count is odd)."""
    middle = count // 2
    return [centre + half * (k - middle) / middle for k in range(count)]


def _label(derivation, index: int) -> str:
    """Mathtext for a parameter: ``$w_{1}$``, ``$w^{(1)}_{11}$``."""
    return f"${latex(derivation.parameter_symbols[index])}$"


def _window(values: list[float], half_minimum: float) -> tuple[float, float]:
    """The centre and half-width of an interval holding ``values`` with a margin."""
    low, high = min(values), max(values)
    half = max((high - low) / 2 * (1 + SURFACE_MARGIN), half_minimum)
    return (low + high) / 2, half


def plot_data(derivation: Derivation) -> PlotData:
    """Every number of the pictures of ``derivation`` (a neuron's or a network's).

    >>> from symgrad.maths.derive import derive
    >>> data = plot_data(derive())  # w = 0.5, b = 0.1, x = 2, y = 1.5, α = 0.1
    >>> data.losses, data.slice_parameter, data.slice_gradient, data.path
    ((0.16, 0.0), 'w', -1.6, ((0.5, 0.1), (0.66, 0.18)))
    """
    d = derivation
    loss = _loss_function(d)
    rate = _float(d.learning_rate)
    start = [_float(p) for p in d.parameters]
    gradients = [_float(g.value) for g in d.gradients]
    losses = tuple(_float(it.loss) for it in d.iterations) + (_float(d.final_loss),)
    points = [[_float(p) for p in it.parameters] for it in d.iterations]
    points.append([_float(p) for p in d.final_parameters])
    current_loss = _float(d.loss.value)
    frozen = [g.frozen for g in d.gradients]
    # The first step of each parameter: -α·g, or nothing for a frozen one.
    first_step = [0.0 if still else -rate * g for g, still in zip(gradients, frozen)]
    # The pictures follow the parameters that move (any two, if all are frozen).
    moving = [k for k, still in enumerate(frozen) if not still] or list(range(len(frozen)))

    # The slice: one parameter varies, every other one keeps its current value.
    i = moving[0]
    p0, g = start[i], gradients[i]
    half = max(MIN_SLICE_HALF_WIDTH, 3 * abs(first_step[i]))
    grid = _evenly(p0, half, SLICE_POINTS)

    def along(value: float) -> float:
        return loss(*start[:i], value, *start[i + 1:])

    step = p0 + first_step[i]
    ends = (grid[0], grid[-1])
    fields = dict(
        loss_title=d.loss_function.title, learning_rate=rate,
        steps=tuple(range(len(losses))), losses=losses,
        slice_parameter=d.parameter_names[i], slice_label=_label(d, i),
        slice_value=p0, slice_loss=current_loss, slice_gradient=g,
        slice_gradient_text=_shown(d.gradients[i].value),
        slice_held=tuple(_label(d, k) for k in range(len(start)) if k != i),
        slice_held_values=tuple(v for k, v in enumerate(start) if k != i),
        slice_grid=tuple(grid), slice_losses=tuple(along(x) for x in grid),
        tangent_x=ends, tangent_y=tuple(current_loss + g * (x - p0) for x in ends),
        slice_step=step, slice_step_loss=along(step))
    if len(moving) < 2:
        return PlotData(**fields)

    # The surface: the first two moving parameters vary, the others keep their values.
    i, j = moving[:2]
    path = tuple((p[i], p[j]) for p in points)
    arrow = (start[i], start[j], first_step[i], first_step[j])
    xs = [x for x, _ in path] + [arrow[0] + arrow[2]]
    ys = [y for _, y in path] + [arrow[1] + arrow[3]]
    (cx, hx), (cy, hy) = _window(xs, MIN_SURFACE_HALF_WIDTH), _window(ys, MIN_SURFACE_HALF_WIDTH)
    # One scale on both axes, so the gradient arrow is drawn at right angles to the contours.
    half = max(hx, hy)
    x, y = _evenly(cx, half, SURFACE_POINTS), _evenly(cy, half, SURFACE_POINTS)
    point = list(start)

    def at(p: float, q: float) -> float:
        point[i], point[j] = p, q
        return loss(*point)

    return PlotData(
        **fields,
        surface_parameters=(d.parameter_names[i], d.parameter_names[j]),
        surface_labels=(_label(d, i), _label(d, j)),
        surface_held=tuple(_label(d, k) for k in range(len(start)) if k not in (i, j)),
        surface_held_values=tuple(v for k, v in enumerate(start) if k not in (i, j)),
        surface_x=tuple(x), surface_y=tuple(y),
        surface_losses=tuple(tuple(at(p, q) for p in x) for q in y),
        path=path, arrow=arrow)


def _shown(value: Expr) -> str:
    """Mathtext of ``= value`` as the lessons show it: ``= -1.6`` when exact,
    ``\\approx 4.386 \\cdot 10^{-4}`` when rounded."""
    text, is_exact = decimal(value, 4)
    return ("= " if is_exact else r"\approx ") + latex_decimal(text)


def _held(labels: tuple[str, ...], values: tuple[float, ...]) -> str:
    """`` ($b$ = 0.1 held)`` for a title: which parameters stay put, and where."""
    if not labels:
        return ""
    if len(labels) > 2:
        return " (others held)"
    # A true minus sign, as on the axes, not a hyphen.
    shown = [f"{label} = " + f"{value:.4g}".replace("-", "\u2212")
             for label, value in zip(labels, values)]
    return " (" + ", ".join(shown) + " held)"


def figures(derivation: Derivation) -> dict[str, Figure]:
    """The pictures of ``derivation`` as matplotlib figures, keyed by the names in PLOTS
    (no ``loss_surface`` unless two parameters move). Every artist a test may read back
    has a ``gid``: ``loss_curve``, ``slice``, ``tangent``, ``current``, ``step``, ``path``,
    ``arrow``.

    >>> from symgrad.maths.derive import derive
    >>> sorted(figures(derive()))
    ['loss_curve', 'loss_slice', 'loss_surface']
    """
    require_matplotlib()
    data = plot_data(derivation)
    drawn = {"loss_curve": _draw_curve(data), "loss_slice": _draw_slice(data)}
    if data.has_surface:
        drawn["loss_surface"] = _draw_surface(data)
    return drawn


def _figure():
    from matplotlib.figure import Figure

    return Figure(figsize=FIGURE_SIZE, dpi=DPI, layout="constrained")


def _draw_curve(data: PlotData):
    """The loss against the training step."""
    from matplotlib.ticker import MaxNLocator

    figure = _figure()
    ax = figure.add_subplot()
    markers = "o" if len(data.steps) <= MAX_MARKERS else None
    ax.plot(data.steps, data.losses, marker=markers, color=BLUE, linewidth=1.5, markersize=5,
            gid="loss_curve", label="loss $L$")
    updates = len(data.steps) - 1
    ax.set_title("Loss before and after the step" if updates == 1
                 else f"Loss during {updates} training steps" if updates
                 else "Loss at the start (already below the tolerance)")
    ax.set_xlabel("training step (updates so far)")
    ax.set_ylabel(f"loss $L$ ({data.loss_title})")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    margin = max(0.3, 0.03 * data.steps[-1])  # a lone starting point still gets an x-axis
    ax.set_xlim(data.steps[0] - margin, data.steps[-1] + margin)
    # From zero, so the fall of the loss is seen at its true size (a little below, so a
    # point at zero loss shows whole).
    top = max((v for v in data.losses if math.isfinite(v)), default=1.0)
    top = top if top > 0 else 1.0
    ax.set_ylim(min(0.0, min(data.losses)) - 0.03 * top, top * 1.12)
    for step, value in ((data.steps[0], data.losses[0]), (data.steps[-1], data.losses[-1])):
        ax.annotate(f"{value:.4g}", (step, value), textcoords="offset points", xytext=(0, 7),
                    ha="center", fontsize=8)
    ax.grid(True, alpha=0.3)
    return figure


def _draw_slice(data: PlotData):
    """The loss along one parameter, its tangent at the current point, and the step."""
    figure = _figure()
    ax = figure.add_subplot()
    name, symbol = data.slice_label, data.slice_label.strip("$")
    ax.plot(data.slice_grid, data.slice_losses, color=BLUE, linewidth=2, gid="slice",
            label=f"loss $L$ along {name}")
    # The slope's value sits in the legend, which matplotlib places clear of the curves.
    ax.plot(data.tangent_x, data.tangent_y, color=VERMILLION, linestyle="--", linewidth=1.5,
            gid="tangent", label=rf"tangent: slope = $\partial L/\partial {symbol} "
                                 rf"{data.slice_gradient_text}$")
    # The step's ring is larger and drawn below, so a tiny step still shows around the dot.
    ax.plot([data.slice_value], [data.slice_loss], "o", color=BLACK, markersize=6, zorder=4,
            gid="current", label=f"current {name}")
    ax.plot([data.slice_step], [data.slice_step_loss], "o", markerfacecolor="white",
            markeredgecolor=BLACK, markersize=10, zorder=3, gid="step",
            label=rf"one step: ${symbol} - \alpha\,\partial L/\partial {symbol}$")
    finite = [v for v in data.slice_losses if math.isfinite(v)]
    low, high = min(finite), max(finite)
    pad = (high - low) * 0.08 or 1.0
    # The tangent runs off the chart where it leaves the curve's range; the curve matters.
    ax.set_ylim(low - pad, high + pad)
    ax.set_xlim(data.slice_grid[0], data.slice_grid[-1])
    ax.set_title(f"Loss along {name}" + _held(data.slice_held, data.slice_held_values))
    ax.set_xlabel(f"parameter {name}")
    ax.set_ylabel(f"loss $L$ ({data.loss_title})")
    ax.legend(fontsize=8, loc="best", framealpha=0.9)
    ax.grid(True, alpha=0.3)
    return figure


def _draw_surface(data: PlotData):
    """Contours of the loss over two parameters, the descent path and the first step."""
    import numpy as np  # a dependency of matplotlib
    from matplotlib.colors import BoundaryNorm
    from matplotlib.lines import Line2D

    figure = _figure()
    ax = figure.add_subplot()
    losses = np.ma.masked_invalid(np.array(data.surface_losses, dtype=float))
    levels = _levels(losses)
    # Each band its own step of the colour map, though the bands differ in height.
    norm = BoundaryNorm(levels, 256)
    filled = ax.contourf(data.surface_x, data.surface_y, losses, levels=levels, cmap="viridis",
                         norm=norm)
    ax.contour(data.surface_x, data.surface_y, losses, levels=filled.levels, colors="white",
               linewidths=0.4, alpha=0.6)
    colorbar = figure.colorbar(filled, ax=ax, shrink=0.9, format="%.3g")
    colorbar.set_label(f"loss $L$ ({data.loss_title})")
    xs, ys = zip(*data.path)
    markers = "o" if len(xs) <= MAX_MARKERS else None
    ax.plot(xs, ys, color="white", linewidth=3.5, zorder=3)  # a halo, so the path shows on
    ax.plot(xs, ys, marker=markers, color=BLACK, markerfacecolor=ORANGE, markersize=5,
            linewidth=1.5, zorder=4, gid="path", label="gradient-descent path")
    x, y, dx, dy = data.arrow
    ax.annotate("", xy=(x + dx, y + dy), xytext=(x, y), zorder=5, gid="arrow",
                arrowprops=dict(arrowstyle="-|>,head_length=0.6,head_width=0.3",
                                color=VERMILLION, linewidth=2.2, shrinkA=0, shrinkB=0))
    ax.plot([x], [y], "o", color=BLACK, markerfacecolor="white", markersize=7, zorder=6,
            gid="start", label="start")
    arrow_key = Line2D([], [], color=VERMILLION, linewidth=2.2, marker=">", markersize=6,
                       label=r"first step $-\alpha\,\nabla L$")
    handles = [*ax.get_lines()[1:], arrow_key]
    ax.legend(handles=handles, fontsize=8, loc="best", framealpha=0.9)
    first, second = data.surface_labels
    ax.set_aspect("equal")
    ax.set_title(f"Loss over {first} and {second}"
                 + _held(data.surface_held, data.surface_held_values))
    ax.set_xlabel(f"parameter {first}")
    ax.set_ylabel(f"parameter {second}")
    return figure


def _levels(losses):
    """Contour levels at quantiles of the loss, so a narrow valley's floor has lines too
    (a flat loss, such as a dead ReLU's, gets a single band around its value)."""
    import numpy as np

    finite = losses.compressed()
    if not finite.size:
        return np.array([0.0, 1.0])
    levels = np.unique(np.quantile(finite, np.linspace(0, 1, 15)))
    return levels if len(levels) >= 2 else np.array([levels[0] - 0.5, levels[0] + 0.5])


def save(derivation: Derivation, folder: str | os.PathLike,
         stem: str) -> tuple[Path, ...]:
    """Write every picture as ``{stem}_{name}.svg`` and ``.png`` into ``folder`` (which
    must exist), each atomically and the same bytes on every run; the paths in PLOTS
    order, SVG before PNG.

    >>> import tempfile
    >>> from symgrad.maths.derive import derive
    >>> [p.name for p in save(derive(), tempfile.mkdtemp(), "seed")][:2]
    ['seed_loss_curve.svg', 'seed_loss_curve.png']
    """
    files = plot_files(derivation, folder, stem)
    write_files(files)
    return tuple(files)


def plot_files(derivation: Derivation, folder: str | os.PathLike,
               stem: str) -> dict[Path, bytes]:
    """The files :func:`save` writes, path -> content, to write with other files as one unit.

    >>> from symgrad.maths.derive import derive
    >>> [p.name for p in plot_files(derive(), ".", "seed")][-1]
    'seed_loss_surface.png'
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise SymgradError(f"cannot save plots: folder {str(folder)!r} does not exist")
    if not stem or Path(stem).name != stem or stem in (".", ".."):
        raise SymgradError(f"the stem must be a plain file name such as 'seed', not {stem!r}")
    return {folder / f"{stem}_{name}{extension}": content
            for name, extension, content in _encoded(derivation, EXTENSIONS)}


def svg_images(derivation: Derivation) -> dict[str, bytes]:
    """Every picture as SVG bytes, keyed by the names in PLOTS, for a page that embeds
    them; the same bytes as :func:`save` writes.

    >>> from symgrad.maths.derive import derive
    >>> svg_images(derive())["loss_curve"][:5]
    b'<?xml'
    """
    return {name: content for name, _, content in _encoded(derivation, (".svg",))}


def _encoded(derivation, extensions) -> list[tuple[str, str, bytes]]:
    """``(name, extension, file content)`` of every picture, in PLOTS order."""
    matplotlib = require_matplotlib()
    drawn = figures(derivation)
    encoded = []
    try:
        with matplotlib.rc_context({"svg.hashsalt": SVG_HASH_SALT}):
            for name in PLOTS:
                if name not in drawn:
                    continue
                for extension in extensions:
                    buffer = io.BytesIO()
                    # No date in the SVG, so the same example gives the same file.
                    options = ({"metadata": {"Date": None}} if extension == ".svg"
                               else {"dpi": DPI})
                    drawn[name].savefig(buffer, format=extension[1:], **options)
                    encoded.append((name, extension, buffer.getvalue()))
    finally:
        for figure in drawn.values():
            figure.clear()  # built without pyplot, so there is no window to close
    return encoded
