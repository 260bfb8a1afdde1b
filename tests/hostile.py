"""A corpus of hostile, malformed and oversized formulas, and the batch runner that feeds
them to symgrad in a child process (used by test_checks.py).

``MARKER`` in a text is replaced by the path of a file that must never be created.
"""

import json
import sys

# What a correct answer for da/dz of a sigmoid neuron is compared with.
EXPECTED = "sigmoid(z)*(1-sigmoid(z))"

# The inputs quoted in the issue: wrong answers graded correct, hangs, tracebacks.
ISSUE = [
    "z*exp(1000)", "a*exp(1000)", "relu(sqrt(-1)*z)", "tanh(z)*exp(800)", "exp(10**100)",
    "(((9**99)**99)**99)**99", "exp((9**99)**99)", "((sigmoid(z)**100)**100)**100",
    "sqrt(-1)", "log(-1)", "(9**99)**99", "max(z, sqrt(-1))",
]

INJECTION = [
    "__import__('os').system('touch MARKER')",
    '__import__("os").system("touch MARKER")',
    "__import__('subprocess').call(['touch', 'MARKER'])",
    "eval(\"__import__('os').system('touch MARKER')\")",
    "exec(\"open('MARKER', 'w')\")",
    "open('MARKER', 'w')",
    "open('MARKER', 'w').write('x')",
    "(lambda: __import__('os').system('touch MARKER'))()",
    "[__import__('os').system('touch MARKER') for _ in (1,)]",
    "getattr(__import__('os'), 'system')('touch MARKER')",
    "z.__class__.__init__.__globals__['os'].system('touch MARKER')",
    "().__class__.__bases__[0].__subclasses__()",
    "().__class__.__mro__[1].__subclasses__()",
    "''.__class__.__mro__[1].__subclasses__()",
    "().__class__", "x.__class__", "z.__dict__", "z.__reduce__()", "Symbol('x').__class__",
    "exp.__globals__", "sigmoid.__code__", "sigmoid.__globals__['__builtins__']",
    "__builtins__", "__builtins__.__import__('os')", "__import__", "__loader__", "__spec__",
    "globals()", "locals()", "vars()", "dir()", "breakpoint()", "help()", "input()",
    "compile('1', 'f', 'eval')", "getattr(x, '__class__')", "setattr(x, 'y', 1)",
    "import os", "from os import system", "x = 1", "x := 1", "del x", "assert x",
    "lambda: 0", "lambda z: z", "(lambda: 0)()", "[x for x in ()]", "{x for x in ()}",
    "(x for x in ())", "{x: 1 for x in ()}", "[z]", "(z, z)", "{z}", "{z: 1}",
    'f"{1}"', "f'{__import__(\"os\")}'", "'text'", "b'bytes'", "r'raw'", "...",
    "x if y else z", "x[0]", "x[1:2]", "x.real", "z.evalf()", "exp(x=1)", "max(*[1, 2])",
    "exp(**{})", "1 < 2", "x == y", "x and y", "x or y", "not x", "~x", "x % 2", "x // 2",
    "x @ y", "x << 2", "x >> 2", "x & y", "x | y", "1j", "2+3j", "True", "False", "None",
    "await z", "yield z", "print(1)", "exit()", "quit()", "sympify('x')", "S('x')",
    "Symbol('os')", "Function('f')(z)", "Integer(1)", "N(pi, 10**9)", "pi.evalf(10**9)",
    "sqrt.__self__", "z\\\n+1", "z;1", "z\n__import__('os')", "#", "z # comment",
]

LOOKALIKES = [
    "еxp(z)", "ехр(z)", "z\u200b", "ｅｘｐ(z)", "ｚ", "z\u00a0+1", "ℯxp(z)", "𝐳", "ⅇ",
    "\u202ez+1", "z\u2028+1", "z\x00", "z\t+\t1", "sіgmoid(z)", "ѕqrt(z)", "tanh(ᴢ)",
    "½", "z²", "z³", "√z", "∞", "π", "σ(z)·(1+σ(z))", "ŷ − y", "z×2", "z÷2", "z^2^2",
    "e^z", "🙂", "\ufeffz", "z\r\n", "\x1b[2Jz",
]

HUGE = [
    "9**9**9**9", "2**10000", "(10**20)**(10**20)", "10**30**30", "2**100**100",
    "9" * 31, "9" * 30 + "**99", "1" * 400, "1e999", "1e308*1e308", "-1e999", "1e-999",
    "1.7976931348623157e308", "5e-324", "1e30", "1e31", "(1e30)**100", "(1e-30)**100",
    "999999999999999999999999999999**100", "(999999999999999999999999999999**100)**2",
    "exp(10**30)", "exp(999999)", "exp(2400)", "exp(-10**30)", "exp(exp(exp(exp(99))))",
    "exp(exp(100))", "exp(exp(z))", "exp(exp(exp(z)))", "exp(100*exp(100*z))",
    "exp(z**100)", "exp((z*100)**100)", "sigmoid(10**30*z)", "tanh(10**30)**100",
    "sigmoid(z)**(10**30)", "z**(10**30)", "z**z**z", "z**z**z**z", "x**y**z**w",
    "(z**100)**100", "((z**100)**100)**100", "(((z**99)**99)**99)**99", "(x+1)**100**2",
    "(2**100)**100", "((2**50)**50)**50", "(9**99)**(9**99)", "2**(2**(2**(2**2)))",
    "exp(1000*log(2))", "exp(10**6*log(10))", "log(10**30)**100", "sqrt(10**30)**100",
    "max(9**99, 8**99)**99", "abs(9**99)**99", "relu(9**99)**99", "(1/3)**99**2",
    "(2/3)**-100", "(1/10**30)**-100", "10**-30**-30", "(-1)**(1/3)", "(-8)**(1/3)",
    "2**0.5**0.5**0.5", "E**1000", "E**z**z", "pi**pi**pi", "(z+1)**101", "x**-101",
    "x**100.5", "z**1e30", "z**1e-30", "2**(50*3)", "(z+x+y+w+b+a)**100",
    "sigmoid(z)**100*tanh(z)**100*exp(z)**100", "exp(z)**100**2",
]

NESTING = [
    "(" * 199 + "z" + ")" * 199, "(" * 300 + "z" + ")" * 300, "-" * 300 + "z",
    "+" * 300 + "z", "-(" * 100 + "z" + ")" * 100, "exp(" * 50 + "z" + ")" * 50,
    "tanh(" * 60 + "z" + ")" * 60, "sqrt(" * 60 + "z" + ")" * 60,
    "abs(" * 60 + "z" + ")" * 60, "log(" * 30 + "z" + ")" * 30,
    "1" + "+1" * 600, "z" + "*z" * 150, "z" + "**z" * 30, "z" + "**2" * 30,
    "x" * 1_000_000, "z+" * 250 + "z", "max(" + ", ".join(["z"] * 120) + ")",
    "sigmoid(" * 40 + "z" + ")" * 40, "relu(" * 90 + "z" + ")" * 90,
    "[" * 100 + "z" + "]" * 100, "{" * 100 + "}" * 100, "(((((((((((((((((((",
]

DOMAIN = [
    "1/0", "z/0", "1/(z-z)", "0**-1", "0**0", "log(0)", "log(-1)", "log(-z**2-1)",
    "sqrt(-z**2-1)", "sqrt(-4)", "(-1)**0.5", "log(0)*0", "0/0", "1/(1-1)", "z/(2-2)",
    "exp(z)/0", "tanh(z)/(z-z)", "1/log(1)", "log(log(1))", "sqrt(-1)*sqrt(-1)",
    "sqrt(-1)**2", "max(z, log(-1))", "min(sqrt(-2), 1)", "relu(log(-1))",
    "Heaviside(sqrt(-1))", "abs(sqrt(-1))", "sigmoid(sqrt(-1)*z)", "tanh(log(-2))",
    "log(sqrt(-1))", "exp(sqrt(-1)*pi)", "1/(exp(z)-exp(z))", "z**-1*0",
]

SYNTAX = [
    "", " ", "   ", "\t", "(", ")", "()", "(()", "z)", "z(", "2x", "2 z", "z z", "z +",
    "+", "*", "**", "/", "z**", "**z", "z//", "z,", ",z", ";", "sigmoid", "exp", "log",
    "sigmoid()", "exp()", "sqrt()", "exp(1, 2)", "max(z)", "min()", "tanh(z, z)",
    "relu(z)(z)", "z(1)", "1(2)", "q + 1", "Z", "X", "alpha", "sigma(z)", "e", "i", "j",
    "inf", "nan", "-inf", "NaN", "Infinity", "oo", "zoo", "I", "E(z)", "pi(1)", "exp z",
    "z..1", "1..", ".", "1e", "1e+", "0x10", "0b101", "0o7", "1_000", "1__0", "01",
    "z''", "\"z\"", "`z`", "$z", "@z", "z!", "z?", "&", "|z|", "z =", "==", "z\\",
    "max(z, *())", "exp(*z)",
]

WRONG_FORMULAS = [
    "z", "a", "1", "0", "-1", "sigmoid(z)", "1 - sigmoid(z)", "a*(1-a)", "z*(1-z)",
    "exp(-z)", "exp(z)/(1+exp(z))", "sigmoid(z)**2", "tanh(z)", "1-tanh(z)**2",
    "relu(z)", "Heaviside(z)", "abs(z)", "max(z, 0)", "sigmoid(z)*(1+sigmoid(z))",
    "sigmoid(z)*(1-sigmoid(z)) + 1e-6", "sigmoid(z)*(1-sigmoid(z))*1.000001",
    "sigmoid(z)*(1-sigmoid(z))*exp(1000)", "sigmoid(z)*(1-sigmoid(z)) + exp(700)",
    "z*exp(700)", "exp(800)", "-exp(2000)", "exp(-2000)", "tanh(z)*exp(2000)",
    "sigmoid(1000*z)",
    "sqrt(z)", "log(z)", "sqrt(z-3)", "log(z-3)", "sqrt(-z)*sqrt(-z)", "log(z**2)",
    "(z**3)**(1/3)", "sqrt(z)**2", "1/z", "1/(z-0.5)", "z**-2", "exp(1/z)",
    "2*sigmoid(z)*(1-sigmoid(z))", "sigmoid(z)*(1-sigmoid(z)) - 0.0001",
    "sigmoid(2*z)", "sigmoid(z)*(1-sigmoid(z))**2", "max(sigmoid(z), 0.25)",
    "min(sigmoid(z)*(1-sigmoid(z)), 0.2)", "pi", "E", "x", "w*x+b", "y - a",
]


def corpus() -> list[str]:
    """Every hostile text, once, in a stable order."""
    seen, texts = set(), []
    for group in (ISSUE, INJECTION, LOOKALIKES, HUGE, NESTING, DOMAIN, SYNTAX,
                  WRONG_FORMULAS):
        for text in group:
            if text not in seen:
                seen.add(text)
                texts.append(text)
    return texts


def run_batch(texts: list[str], marker: str) -> None:
    """In a child process: parse and check each text, printing one JSON line per text
    (written before the next starts, so a hang names its text)."""
    from symgrad import check, parse
    from symgrad.errors import SymgradError

    for index, text in enumerate(texts):
        text = text.replace("MARKER", marker)
        row = {"index": index}
        for name, call in (("parse", lambda: parse(text)),
                           ("check", lambda: check(text, EXPECTED))):
            try:
                result = call()
            except SymgradError as error:
                row[name] = "error"
                row[name + "_lines"] = len(str(error).splitlines())
            except BaseException as error:  # noqa: BLE001 - the test counts these
                row[name] = f"crash {type(error).__name__}: {str(error)[:200]}"
            else:
                row[name] = "ok"
                if name == "check":
                    row["correct"] = bool(result.correct)
                    row["kind"] = result.kind
        print(json.dumps(row), flush=True)


def parse_property(examples: int = 300) -> None:
    """Hypothesis: formulas built from a small grammar (huge numbers, nested powers and
    exps, any function) parse to an expression or fail with a SymgradError."""
    from hypothesis import given, settings, strategies as st

    from symgrad import parse
    from symgrad.errors import SymgradError

    leaves = st.one_of(st.sampled_from(["z", "x", "a", "E", "pi", "q", "0", "-1", "0.5"]),
                       st.integers(-10**40, 10**40).map(str), st.floats().map(repr))
    functions = st.sampled_from(["exp", "log", "sqrt", "sigmoid", "tanh", "relu",
                                 "Heaviside", "abs", "eval", "max", "min"])

    def grow(children):
        return st.one_of(
            st.tuples(children, st.sampled_from(["+", "-", "*", "/", "**", "^", "%"]),
                      children).map(lambda t: f"({t[0]}){t[1]}({t[2]})"),
            st.tuples(functions, st.lists(children, min_size=1, max_size=3)).map(
                lambda t: f"{t[0]}({', '.join(t[1])})"),
            children.map(lambda c: f"-{c}"))

    count = [0]

    @settings(max_examples=examples, deadline=None, database=None, derandomize=True)
    @given(st.recursive(leaves, grow, max_leaves=12))
    def property_(text):
        count[0] += 1
        try:
            parse(text)
        except SymgradError as error:
            assert "\n" not in str(error)

    property_()
    print(f"examples: {count[0]}")


if __name__ == "__main__":
    run_batch(json.loads(sys.stdin.read()), sys.argv[1])
