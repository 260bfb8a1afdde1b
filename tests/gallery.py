"""The committed gallery in output/: which examples, and how to regenerate them.

Run ``python tests/gallery.py`` after changing templates or maths; the test
``test_gallery.py`` fails while output/ is stale.  Files drawn by matplotlib (plots,
and the HTML page that inlines them) are compared only under the matplotlib version
that drew them, since another version draws the same numbers a little differently.
The printable PDFs are compiled from their .tex with pdflatex when it is installed, and
only when the .tex they record having been built from is not the current one: another
TeX version gives other bytes, so they are checked against their source's hash instead.
"""

import shutil
import sys
import tempfile
from pathlib import Path

from latex import compile_tex, recorded_source, source_hash
from symgrad import Neuron, Sample, worked_example
from symgrad.maths.model import Layer, Network
from symgrad.assess.sheets import sheet

OUTPUT = Path(__file__).resolve().parent.parent / "output"
FORMATS = ("md", "tex", "py")
# Examples of what only documents show (derivative steps, a language, the mistakes panel):
# their script would be another example's, so they are written as md and tex alone.
DOCUMENTS_ONLY = ("derive_steps_sigmoid_bce", "sigmoid_bce_de", "sigmoid_mistakes",
                  "batch_matrix_form", "derive_steps_softmax")

# name -> (neuron, samples, options); each is written as name.md, name.tex, name.py
GALLERY = {
    "seed001_linear_squared": (Neuron(weights="0.5", bias="0.1"),
                               [Sample(x="2.0", y="1.5")], {}),
    "seed003_identity": (Neuron(weights="1.5", bias="0.5"), [Sample(x="2.0", y="4.0")], {}),
    "sigmoid_bce": (Neuron(weights="0.5", bias="0.1", activation="sigmoid", loss="bce"),
                    [Sample(x="2.0", y="1")], {}),
    # The sigmoid's f'(z) and cross-entropy's ∂L/∂ŷ derived rule by rule (--derive-steps).
    "derive_steps_sigmoid_bce": (Neuron(weights="0.5", bias="0.1", activation="sigmoid",
                                        loss="bce"), [Sample(x="2.0", y="1")],
                                 {"derive_steps": True}),
    "relu_at_kink": (Neuron(weights="0.5", bias="-1", activation="relu"),
                     [Sample(x="2.0", y="1.5")], {}),
    # GELU (exact, through erf): its slope derived rule by rule to Φ(z) + z·φ(z), the
    # values shown with ≈, and a script that recomputes them with math.erf.
    "gelu_squared": (Neuron(weights="0.5", bias="0.1", activation="gelu"),
                     [Sample(x="2.0", y="1.5")], {"derive_steps": True}),
    "two_input_batch_mse": (Neuron(weights=("0.5", "-0.25"), bias="0.1", loss="mse"),
                            [Sample(x=("1", "2"), y="1"), Sample(x=("2", "-1"), y="0.5")], {}),
    "training_loop_5_steps": (Neuron(weights="0.5", bias="0.1"), [Sample(x="2.0", y="1.5")],
                              {"learning_rate": "0.05", "steps": 5}),
    # Adam over three steps: m, v and their bias-corrected forms worked exactly (√ and ε
    # make the values irrational; they are shown with ≈ and kept exact).
    "adam_3_steps": (Neuron(weights="0.5", bias="0.1"), [Sample(x="2.0", y="1.5")],
                     {"optimizer": "adam", "steps": 3}),
    # An L2 penalty (λ/2)·w² on the weights: each gradient gains a second term λw.
    "l2_penalty": (Neuron(weights=("0.5", "-1"), bias="0.1", activation="sigmoid"),
                   [Sample(x=("2", "1"), y="0.5")], {"l2": "0.1", "steps": 3}),
    # The same lesson in German: the words from the catalog, the maths unchanged.
    "sigmoid_bce_de": (Neuron(weights="0.5", bias="0.1", activation="sigmoid", loss="bce"),
                       [Sample(x="2.0", y="1")], {"lang": "de"}),
    # A batch vectorised, one row a sample, every matrix's shape shown (--matrix).
    "batch_matrix_form": (Neuron(weights=("0.5", "-0.25"), bias="0.1", activation="sigmoid",
                                 loss="mse"),
                          [Sample(x=("1", "2"), y="1"), Sample(x=("2", "-1"), y="0.5"),
                           Sample(x=("-1", "1"), y="0")], {"matrix": True}),
    # The panel of common mistakes, to hand out with a key.
    "sigmoid_mistakes": (Neuron(weights="0.5", bias="0.1", activation="sigmoid"),
                         [Sample(x="2.0", y="1.5")], {"mistakes": True}),
    # The classic 2-2-2 walkthrough: half squared error summed over the outputs, α = 0.5,
    # biases frozen; its total error 0.298371109 and w5_new = 0.35891648 are checked in
    # test_network.py.
    "network_2_2_2_sigmoid": (
        Network(layers=[Layer([["0.15", "0.2"], ["0.25", "0.3"]], ["0.35", "0.35"], "sigmoid"),
                        Layer([["0.4", "0.45"], ["0.5", "0.55"]], ["0.6", "0.6"], "sigmoid")],
                loss="half_squared", frozen=("b",)),
        [Sample(x=["0.05", "0.1"], y=["0.01", "0.99"])],
        {"learning_rate": "0.5", "matrix": True, "finite_differences": True}),
    # A 2-2-3 classifier: ReLU, then a softmax over 3 classes with categorical cross-entropy;
    # the target is class 3, and the backward pass goes through the softmax's Jacobian.
    "network_softmax": (
        Network(layers=[Layer([["0.5", "-0.2"], ["0.1", "0.4"]], ["0.1", "-0.1"], "relu"),
                        Layer([["0.3", "-0.5"], ["0.2", "0.6"], ["-0.4", "0.1"]],
                              ["0", "0.1", "-0.1"], "softmax")],
                loss="cross_entropy"),
        [Sample(x=["1", "2"], y=3)], {"matrix": True, "show": "all"}),
    # The same classifier with --derive-steps: the softmax's Jacobian by the quotient rule, and
    # cross-entropy through it cancelling to a_k - y_k.
    "derive_steps_softmax": (
        Network(layers=[Layer([["0.5", "-0.2"], ["0.1", "0.4"]], ["0.1", "-0.1"], "relu"),
                        Layer([["0.3", "-0.5"], ["0.2", "0.6"], ["-0.4", "0.1"]],
                              ["0", "0.1", "-0.1"], "softmax")],
                loss="cross_entropy"),
        [Sample(x=["1", "2"], y=3)], {"derive_steps": True}),
}

# Examples whose script is also written as the numpy and torch cross-checks, name_numpy.py
# and name_torch.py (test_crosscheck.py runs them).
CROSS_CHECKED = ("network_2_2_2_sigmoid", "adam_3_steps", "network_softmax")

# Examples with pictures: the computation graph and the plots, in every format that
# holds them; name.md refers to name_*.svg, name.tex to name_*.png.
PICTURES = {
    "seed001_pictures": (Neuron(weights="0.5", bias="0.1"), [Sample(x="2.0", y="1.5")],
                         {"learning_rate": "0.05", "steps": 5}),
    "network_2_2_2_graph": (GALLERY["network_2_2_2_sigmoid"][0],
                            GALLERY["network_2_2_2_sigmoid"][1], {"learning_rate": "0.5"}),
}
# Written by the browser test (tests/test_page.py), not by this script.
SCREENSHOTS = OUTPUT / "screenshots"

# An easy sheet of seed 1, and a medium one exported to Moodle.
SHEET = sheet(count=6, seed=1)
MOODLE = sheet(count=4, seed=1, difficulty="medium", ask=("w", "b", "update"))


def render_all() -> dict[Path, str]:
    """Every gallery file's path and the text it should hold."""
    files = {}
    for name, (neuron, samples, options) in GALLERY.items():
        example = worked_example(neuron, samples, **options)
        # The matrix form is for documents; the script and the data are written without it.
        data = worked_example(neuron, samples, **(options | {"matrix": False}))
        for fmt in FORMATS[:2] if name in DOCUMENTS_ONLY else FORMATS:
            files[OUTPUT / f"{name}.{fmt}"] = (example if fmt in ("md", "tex") else
                                               data).render(fmt)
        if name in ("seed001_linear_squared", "network_2_2_2_sigmoid", "network_softmax"):
            files[OUTPUT / f"{name}.json"] = data.to_json()
        if name in CROSS_CHECKED:
            for fmt in ("numpy", "torch"):
                files[OUTPUT / f"{name}_{fmt}.py"] = data.render(fmt)
    for name, text in SHEET.documents("md").items():
        files[OUTPUT / "sheets" / name] = text
    for name, text in SHEET.documents("tex").items():
        files[OUTPUT / "sheets" / name] = text
    files[OUTPUT / "sheets" / "quiz.xml"] = MOODLE.documents("moodle")["quiz.xml"]
    files[OUTPUT / "sheets" / "quiz-qti.zip"] = MOODLE.documents("qti")["quiz-qti.zip"]
    files.update(render_class())
    files.update(render_pictures())
    return files


# The printable sheet and key: each PDF and the .tex it is compiled from.
PRINTABLE = {OUTPUT / "sheets" / "sheet.pdf": OUTPUT / "sheets" / "sheet.tex",
             OUTPUT / "sheets" / "key.pdf": OUTPUT / "sheets" / "key.tex"}


def build_printable(pdflatex: str | None, printable: dict[Path, Path] = PRINTABLE) -> list[Path]:
    """Compile each PDF of ``printable`` whose .tex is not the one it was built from, and
    return the written PDFs; without ``pdflatex``, write nothing and return the stale ones."""
    stale = [pdf for pdf, tex in printable.items()
             if not pdf.exists() or recorded_source(pdf.read_bytes())
             != source_hash(tex.read_bytes())]
    if pdflatex is None:
        return stale
    for pdf in stale:
        with tempfile.TemporaryDirectory() as scratch:  # keeps .aux and .log out of output/
            source = Path(scratch) / printable[pdf].name
            shutil.copyfile(printable[pdf], source)
            result = compile_tex(source, pdflatex)
            if result.returncode != 0:
                raise RuntimeError(f"pdflatex failed on {printable[pdf]}:\n"
                                   + result.stdout[-2000:])
            shutil.copyfile(source.with_suffix(".pdf"), pdf)
    return stale


# A marked class: three scripted students answer a two-problem sheet. ada gives the model
# answers; bo gets ŷ wrong and works on correctly from it (carried forward); cy sets ŷ to
# the target, so that everything after is trivially 0 (no carry-forward).
CLASS = sheet(count=2, seed=1, ask=("prediction", "loss", "w", "update"))


def render_class() -> dict[Path, str]:
    """output/sheets/class/: the sheet's JSON, the answers CSV and what symgrad mark writes."""
    from sympy import Rational

    from symgrad.assess.mark import mark_class, read_answers
    from symgrad.assess.answers import fixed
    from symgrad.maths.quantities import depends_on, recompute

    keys = [a.quantity.key for a in CLASS.problems[0].answers]
    lines = ["student,problem," + ",".join(keys)]
    for p in CLASS.problems:
        d, by_key = p.derivation, {a.quantity.key: a for a in p.answers}
        lines.append(f"ada,{p.number}," + ",".join(a.rounded for a in p.answers))
        own = {"prediction": d.forward[0].prediction.value + Rational(1, 2)}
        for key in keys[1:]:
            given = {k: Rational(own[k]) for k in depends_on(d, key) if k in own}
            own[key] = fixed(recompute(d, key, given), by_key[key].places)
        own["prediction"] = fixed(own["prediction"], by_key["prediction"].places)
        lines.append(f"bo,{p.number}," + ",".join(str(own[k]) for k in keys))
        target = d.samples[0].y
        gaming = {"prediction": target, "loss": Rational(0), "dL/dw": Rational(0),
                  "dL/db": Rational(0),
                  "w_new": d.parameters[0], "b_new": d.parameters[-1]}
        lines.append(f"cy,{p.number}," + ",".join(fixed(gaming[k], by_key[k].places)
                                                  for k in keys))
    answers = "\n".join(lines) + "\n"
    marks = mark_class(CLASS.problems, read_answers(answers, CLASS.problems)).documents()
    folder = OUTPUT / "sheets" / "class"
    return {folder / "sheet.json": CLASS.to_json(), folder / "answers.csv": answers,
            **{folder / name: text for name, text in marks.items()}}


def render_pictures() -> dict[Path, str | bytes]:
    """The picture examples' documents (text) and plots (bytes), drawn in a scratch folder."""
    files: dict[Path, str | bytes] = {}
    with tempfile.TemporaryDirectory() as scratch:
        for name, (neuron, samples, options) in PICTURES.items():
            plots = name == "seed001_pictures"
            example = worked_example(neuron, samples, graph=True, plots=plots, **options)
            for fmt in ("md", "tex", "html"):
                example.save(Path(scratch) / f"{name}.{fmt}")
            graph = worked_example(neuron, samples, graph=True, **options)
            files[OUTPUT / f"{name}.dot"] = graph.render("dot")
        for path in Path(scratch).iterdir():
            data = path.read_bytes()
            files[OUTPUT / path.name] = data if path.suffix == ".png" else data.decode()
    return files


if __name__ == "__main__":
    for path, text in render_all().items():
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8")
        print(f"wrote {path.relative_to(OUTPUT.parent)}")
    pdflatex = shutil.which("pdflatex")
    changed = build_printable(pdflatex)
    names = ", ".join(str(pdf.relative_to(OUTPUT.parent)) for pdf in changed)
    if pdflatex is None and changed:
        sys.exit(f"pdflatex is not installed, so these PDFs were not compiled and are stale "
                 f"(missing, or built from another .tex): {names} (Debian: apt-get install "
                 "texlive-latex-base texlive-latex-recommended texlive-fonts-recommended)")
    if pdflatex is None:
        print("pdflatex is not installed: the printable PDFs were not compiled (they match "
              "their .tex)")
    for pdf in changed:
        print(f"wrote {pdf.relative_to(OUTPUT.parent)}")
