"""The computation graph of a derivation: every value as a node, every dependency as an edge.

Like micrograd's graph, each node carries its value and its gradient ``∂L/∂node``, but
with the lesson's symbol names, and each edge carries its local derivative
(``∂z/∂w = x = 2``).  Node gradients are accumulated backwards over the edges
(``∂L/∂node = Σ ∂L/∂next · ∂next/∂node``), so the graph is the chain rule made
visible: a test checks that the parameters' node gradients equal the derivation's.

The graph is data; Mermaid (Markdown), TikZ (LaTeX), DOT and SVG are templates.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sympy import Expr, Rational, Symbol, latex

from ..maths.records import PREDICTION, Derivation

__all__ = ["Node", "Edge", "Graph", "computation_graph", "maths_text", "KINDS"]

# What a node is; templates style each kind (parameters stand out, data is quiet).
KINDS = ("parameter", "input", "target", "sum", "activation", "loss")
LOSS = Symbol("L")
# With an L2 penalty: the penalty (λ/2)Σw², the loss with it, J, and λ on the new edges.
PENALTY, OBJECTIVE, LAMBDA = Symbol(r"\Omega"), Symbol("J"), Symbol(r"\lambda")


@dataclass(frozen=True, slots=True)
class Node:
    """One value of the computation: ``key`` is an identifier safe in Mermaid, DOT and
    TikZ, ``name`` its maths in Unicode text (``w``, ``z⁽¹⁾₂``, ``ŷ[2]``: sample 2),
    ``symbol`` its maths as a SymPy symbol (LaTeX ``z^{(1)}_{2}``),
    ``gradient`` is ``∂L/∂node`` (None for data: inputs and targets), and ``column``
    and ``height`` (downwards, in box pitches) place it in a left-to-right drawing."""

    key: str
    name: str
    symbol: Symbol
    kind: str
    value: Expr
    gradient: Expr | None
    column: int
    height: float


@dataclass(frozen=True, slots=True)
class Edge:
    """``source`` feeds ``target``; ``local`` is ``∂target/∂source`` (None for data,
    which nothing differentiates by) and ``formula`` its symbol when it is one
    (``x`` on the edge ``w → z``)."""

    source: str
    target: str
    local: Expr | None
    formula: Expr | None = None


@dataclass(frozen=True, slots=True)
class Graph:
    """Nodes in drawing order, edges from inputs to the loss, and the loss's key."""

    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    loss: str

    @property
    def columns(self) -> int:
        """How many columns a left-to-right drawing needs."""
        return 1 + max(node.column for node in self.nodes)

    @property
    def top(self) -> float:
        """The height of the highest node."""
        return min(node.height for node in self.nodes)

    @property
    def bottom(self) -> float:
        """The height of the lowest node."""
        return max(node.height for node in self.nodes)

    def node(self, key: str) -> Node:
        """The node called ``key``."""
        return next(node for node in self.nodes if node.key == key)

    def edge_name(self, edge: Edge) -> str:
        """``∂z/∂w`` in plain text."""
        return f"∂{self.node(edge.target).name}/∂{self.node(edge.source).name}"


# Unicode's raised and lowered forms of the characters a symbol's indices use.
_SUPERSCRIPTS = dict(zip("0123456789()+-=n", "⁰¹²³⁴⁵⁶⁷⁸⁹⁽⁾⁺⁻⁼ⁿ"))
_SUBSCRIPTS = dict(zip("0123456789()+-=aehijklmnoprstuvx", "₀₁₂₃₄₅₆₇₈₉₍₎₊₋₌ₐₑₕᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓ"))
_SUBSCRIPTS[","] = ","
# The LaTeX names of a graph's symbols and their Unicode letters.
_LETTERS = {r"\hat{y}": "ŷ", r"\ell": "ℓ", r"\delta": "δ", r"\sigma": "σ", r"\alpha": "α",
            r"\lambda": "λ", r"\Omega": "Ω"}


def maths_text(symbol: Symbol) -> str:
    r"""A symbol written as maths in Unicode text, for the graph's labels outside LaTeX:
    indices raised and lowered, a sample of a batch in brackets after them.

    >>> from sympy import Symbol
    >>> [maths_text(Symbol(name)) for name in ("w^{(1)}_{12}", "z^{(2)[3]}_{1}", "L_{2}")]
    ['w⁽¹⁾₁₂', 'z⁽²⁾₁[3]', 'L₂']
    >>> maths_text(PREDICTION), maths_text(Symbol(r"\hat{y}^{[2]}")), maths_text(Symbol("x_1"))
    ('ŷ', 'ŷ[2]', 'x₁')
    """
    text = latex(symbol, symbol_names={PREDICTION: r"\hat{y}"})
    for name, letter in _LETTERS.items():
        text = text.replace(name, letter)
    sample = ""
    found = re.search(r"\[(\d+)\]", text)  # the batch's sample: z^{[2]}, z^{(1)[2]}_{1}
    if found:
        sample = found.group(0)
        text = text.replace(sample, "").replace("^{}", "")

    def index(match):
        table = _SUPERSCRIPTS if match.group(1) == "^" else _SUBSCRIPTS
        inner = match.group(2) if match.group(2) is not None else match.group(3)
        if all(char in table for char in inner):
            return "".join(table[char] for char in inner)
        return match.group(1) + ("(" + inner + ")" if len(inner) > 1 else inner)

    return re.sub(r"([_^])(?:\{([^{}]*)\}|(\w))", index, text) + sample


class _Builder:
    """Collects nodes and edges, then places them and accumulates gradients.  The
    parameters come first; a derivation's per-sample parts are added in between, and
    :meth:`total` adds the loss of a batch."""

    def __init__(self, d: Derivation):
        self.nodes: dict[str, tuple] = {}  # key -> (symbol, kind, value)
        self.edges: list[Edge] = []
        for name, symbol, value in zip(d.parameter_names, d.parameter_symbols, d.parameters):
            self.add(name, symbol, "parameter", value)

    def add(self, key, symbol, kind, value):
        self.nodes[key] = (symbol, kind, value)
        return key

    def link(self, source, target, local=None, formula=None):
        self.edges.append(Edge(source, target, local, formula))

    def total(self, d: Derivation, terms: list[str]) -> Graph:
        """The graph, ending in the sum or mean ``L`` of the samples' loss terms (or in
        the single sample's loss ``l``); with an L2 penalty, in ``J = L + (λ/2)Σw²``,
        the penalty a second path from each penalised parameter (local ``λw``)."""
        if len(terms) == 1:
            loss = terms[0]
        else:
            scale = (Rational(1, len(terms)) if d.loss_function.reduction == "mean"
                     else Rational(1))
            loss = self.add("L", LOSS, "loss", d.loss.value)
            for term in terms:
                self.link(term, "L", scale)
        if d.objective is None:
            return self.build(loss)
        penalty = self.add("penalty", PENALTY, "loss", d.objective.value - d.loss.value)
        for g, value in zip(d.gradients, d.parameters):
            if g.penalty is not None:
                self.link(g.parameter, penalty, d.l2 * value, LAMBDA * g.symbol)
        self.add("J", OBJECTIVE, "loss", d.objective.value)
        self.link(loss, "J", Rational(1))
        self.link(penalty, "J", Rational(1))
        return self.build("J")

    def build(self, loss: str) -> Graph:
        gradients = self._gradients(loss)
        columns = self._columns()
        heights = self._heights(columns)
        nodes = [Node(key, maths_text(symbol), symbol, kind, value, gradients.get(key),
                      columns[key], heights[key])
                 for key, (symbol, kind, value) in self.nodes.items()]
        return Graph(tuple(nodes), tuple(self.edges), loss)

    def _gradients(self, loss: str) -> dict[str, Expr]:
        """Reverse accumulation from ∂L/∂L = 1, newest node first (nodes are added in
        forward order, so every consumer of a node was added after it)."""
        gradients = {loss: Rational(1)}
        for key in reversed(list(self.nodes)):
            if key == loss:
                continue
            terms = [gradients[e.target] * e.local for e in self.edges
                     if e.source == key and e.local is not None and e.target in gradients]
            if terms:
                gradients[key] = sum(terms[1:], terms[0])
        return gradients

    def _sources(self) -> dict[str, list[str]]:
        sources: dict[str, list[str]] = {key: [] for key in self.nodes}
        for edge in self.edges:
            sources[edge.target].append(edge.source)
        return sources

    def _columns(self) -> dict[str, int]:
        """A computed value stands one column right of the values it is computed from,
        two when parameters feed it, so that they get a column of their own; a leaf
        (parameter or data) stands just left of its first consumer."""
        sources = self._sources()
        columns: dict[str, int] = {}
        for key in self.nodes:  # forward order: sources come first
            if sources[key]:
                computed = [columns[s] for s in sources[key] if sources[s]]
                fed = any(self.nodes[s][1] == "parameter" for s in sources[key])
                columns[key] = max(computed, default=0) + (2 if fed and computed else 1)
        for edge in self.edges:
            if not sources[edge.source]:
                place = columns[edge.target] - 1
                columns[edge.source] = min(columns.get(edge.source, place), place)
        return columns

    def _heights(self, columns: dict[str, int]) -> dict[str, float]:
        """In each column the computed values and inputs are centred on height 0, one
        pitch apart.  A parameter is stacked above that middle when the value it feeds
        is in the upper half of its column, below it otherwise, so the arrows between
        layers pass through a free middle; targets go at the bottom."""
        sources = self._sources()
        kinds = {key: entry[1] for key, entry in self.nodes.items()}
        feeds = {e.source: e.target for e in reversed(self.edges)}  # first consumer
        heights: dict[str, float] = {}
        for column in set(columns.values()):
            middle = [k for k in self.nodes if columns[k] == column and (
                sources[k] or kinds[k] == "input")]
            for i, key in enumerate(middle):
                heights[key] = i - (len(middle) - 1) / 2
        for column in set(columns.values()):
            leaves = [k for k in self.nodes if columns[k] == column and k not in heights]
            parameters = [k for k in leaves if kinds[k] == "parameter"]
            edge = max([abs(heights[k]) for k in heights if columns[k] == column]
                       + [abs(heights[feeds[k]]) for k in parameters] + [0])
            above = [k for k in parameters if heights[feeds[k]] <= 0]
            for i, key in enumerate(reversed(above), 1):
                heights[key] = -edge - i
            below = [k for k in parameters if heights[feeds[k]] > 0]
            below += [k for k in leaves if kinds[k] != "parameter"]
            for i, key in enumerate(below, 1):
                heights[key] = edge + i
        return heights


def _tag(symbol: Symbol, sample: int | None) -> Symbol:
    """A network sample's copy of a symbol: ``z^{(1)[2]}_{1}`` (its ``(1)`` is the layer);
    a lesson's symbols carry their sample already (``x^{(2)}_{1}``)."""
    name = r"\hat{y}" if symbol == PREDICTION else symbol.name
    if sample is None:
        return Symbol(name)
    if "^{" in name:
        return Symbol(name.replace("}_", f"[{sample}]}}_", 1))
    return Symbol(f"{name}^{{[{sample}]}}")


def _graph(d: Derivation) -> Graph:
    """One builder for a neuron and a network: each sample's units, read from the record."""
    graph = _Builder(d)
    batch = len(d.samples) > 1
    lesson = not d.is_network
    parameters = {(g.layer, g.neuron, g.source): g for g in d.gradients}
    values = dict(zip(d.parameter_names, d.parameters))
    terms = []
    for f in d.forward:
        s = f.sample if batch else None
        suffix = "" if s is None else f"_s{s}"
        # A lesson's record writes its samples already (x^{(2)}_{1}); a network's is tagged.
        mark = (lambda symbol: _tag(symbol, None)) if lesson else (lambda symbol: _tag(symbol, s))
        inputs = f.input_symbols if lesson else d.input_symbols
        previous = []
        for k, (x_symbol, label, x) in enumerate(zip(d.input_symbols, inputs,
                                                     f.sample_data.x), 1):
            key = x_symbol.name if lesson else f"x_{k}"
            previous.append((graph.add(key + suffix, mark(label), "input", x), x, label))
        layer, current, sums = 1, [], []
        for unit in f.units:
            if unit.layer != layer:
                layer, previous, current, sums = unit.layer, current, [], []
            l, j = unit.layer, unit.neuron
            z_key, a_key = ("z", "a") if lesson else (f"z{l}_{j}", f"a{l}_{j}")
            z = graph.add(z_key + suffix, mark(unit.z_symbol), "sum", unit.z.value)
            for k, (source, value, source_symbol) in enumerate(previous, 1):
                weight = parameters[(l, j, k)]
                graph.link(weight.parameter, z, value, source_symbol)
                if l == 1:
                    graph.link(source, z)
                else:
                    graph.link(source, z, values[weight.parameter], weight.symbol)
            if (l, j, None) in parameters:
                graph.link(parameters[(l, j, None)].parameter, z, Rational(1))
            if unit.jacobian is None:
                a = graph.add(a_key + suffix, mark(unit.a_symbol), "activation", unit.a.value)
                graph.link(z, a, unit.slope.value)
                current.append((a, unit.a.value, unit.a_symbol))
                continue
            # A softmax: each output from every z of its layer, once all of them are there.
            sums.append((z, unit))
            if j < len(unit.jacobian):
                continue
            for out, (_, output) in enumerate(sums):
                a_key = f"a{l}_{out + 1}"
                a = graph.add(a_key + suffix, mark(output.a_symbol), "activation",
                              output.a.value)
                for source, column in sums:  # ∂a_out/∂z_k, from unit k's column
                    graph.link(source, a, column.jacobian[out].value)
                current.append((a, output.a.value, output.a_symbol))
        term = graph.add("l" + suffix, f.loss_symbol if batch else LOSS, "loss", f.loss.value)
        targets = f.target_symbols if lesson else d.target_symbols
        for unit, y_symbol, y_value in zip(f.outputs(), targets, f.sample_data.targets):
            key = "y" if lesson else f"y_{unit.neuron}"
            y = graph.add(key + suffix, mark(y_symbol), "target", y_value)
            graph.link(current[unit.neuron - 1][0], term, unit.upstream.value)
            graph.link(y, term)
        terms.append(term)
    return graph.total(d, terms)


def computation_graph(derivation: Derivation) -> Graph:
    """The computation graph of a worked example's first step, values and gradients on
    every node and the local derivative on every edge.

    >>> from symgrad.maths.derive import derive
    >>> g = computation_graph(derive())
    >>> [(n.name, str(n.value), str(n.gradient)) for n in g.nodes if n.kind == "parameter"]
    [('w', '1/2', '-8/5'), ('b', '1/10', '-4/5')]
    """
    return _graph(derivation)
