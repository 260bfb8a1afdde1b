"""Tests of the command line against hostile or careless input: one line, exit 2, nothing
written; and of the documented forms of negative numbers."""

import json
import os
import resource
import signal
import subprocess
import sys

import pytest

from conftest import ROOT

# Every case runs in a fresh process that cannot hang or eat the machine.
TIMEOUT = 120
MEMORY = 2 * 1024**3


def _limits(file_size=None):
    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))
        if file_size is not None:
            # A "full disk": writes past file_size fail with EFBIG instead of killing us.
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (file_size, file_size))
    return limit


def symgrad(*args, cwd, file_size=None):
    """Run ``python -m symgrad ARGS`` in ``cwd`` with a timeout and a memory limit."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "XDG_CACHE_HOME": str(cwd / ".cache")}
    return subprocess.run([sys.executable, "-m", "symgrad", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=TIMEOUT,
                          preexec_fn=_limits(file_size))


def snapshot(folder):
    """Every path under ``folder`` (the cache aside) with its type, size and content."""
    found = {}
    for path in sorted(folder.rglob("*")):
        if ".cache" in path.relative_to(folder).parts:
            continue
        info = path.lstat()
        content = path.read_bytes() if path.is_file() and not path.is_symlink() else None
        found[str(path.relative_to(folder))] = (info.st_mode, info.st_size, content)
    return found


def assert_refused(result, message, before, folder):
    """Exit 2, one line naming the problem, no traceback, the folder as it was."""
    lines = result.stderr.splitlines()
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert snapshot(folder) == before


SPECS = {
    "layers.toml": "layers = 5\n[[samples]]\nx = [1]\ny = [1]\n",
    "freeze.toml": "freeze = 5\nlayers = [{weights = [[1]]}]\n[[samples]]\nx = [1]\ny = [1]\n",
    "show.toml": "show = 5\nlayers = [{weights = [[1]]}]\n[[samples]]\nx = [1]\ny = [1]\n",
    "two_y.toml": "[[samples]]\nx = [1]\ny = [1, 2]\n",
    "abc.toml": 'weights = "abc"\n',
    "table.toml": "weights = [{a = 1}]\n",
    "rate.toml": "learning_rate = {value = 1}\n",
    "long.toml": "bias = " + "1" * 5000 + "\n",
    "longer.toml": "bias = " + "1" * 200 + "\n",
    "big.toml": "# " + "x" * 1_100_000 + "\n",
}


@pytest.fixture
def folder(tmp_path):
    """A working folder with specs, a binary file, a FIFO, a symlink and a sub-folder."""
    for name, text in SPECS.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "binary.toml").write_bytes(bytes(range(256)))
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "somedir").mkdir()
    (tmp_path / "target.md").write_text("keep me\n")
    (tmp_path / "link.md").symlink_to(tmp_path / "target.md")
    unreadable = tmp_path / "secret.toml"
    unreadable.write_text("bias = 1\n")
    unreadable.chmod(0)
    return tmp_path


EXAMPLE_CASES = [
    (["--x", "1" * 5000], "x is out of range; a number has at most 100 characters"),
    (["--x", "\N{ARABIC-INDIC DIGIT TWO}"], "x must be a number such as 0.5"),
    (["--w", "\N{FULLWIDTH DIGIT TWO}"], "w must be a number such as 0.5"),
    (["--spec", "layers.toml"], "spec key 'layers' must be an array of tables"),
    (["--spec", "freeze.toml"], "spec key 'freeze' must be an array of names"),
    (["--spec", "show.toml"], "spec key 'show' must be an array of names"),
    (["--spec", "two_y.toml"], "spec key 'samples 1: y' must be a number"),
    (["--spec", "abc.toml"], "spec key 'weights' must be a number such as 0.5"),
    (["--spec", "table.toml"], "'weights' must be a number or an array of numbers, not an "
                               "array holding a table"),
    (["--spec", "rate.toml"], "spec key 'learning_rate' must be a number such as 0.5 or "
                              '"1/3", not a table'),
    (["--spec", "long.toml"], "not valid TOML"),
    (["--spec", "longer.toml"], "out of range"),
    (["--spec", "big.toml"], "is larger than 1,000,000 bytes"),
    (["--spec", "binary.toml"], "is not UTF-8 text"),
    (["--spec", "somedir"], "spec file 'somedir' is a folder, not a TOML file"),
    (["--spec", "fifo"], "spec file 'fifo' is a FIFO, not a TOML file"),
    (["--spec", "/dev/zero"], "spec file '/dev/zero' is a device, not a TOML file"),
    (["--spec", ""], "argument --spec: is empty"),
    (["--lr="], "argument --lr: is empty"),
    (["--activation", ""], "argument --activation: is empty"),
    (["--b", " "], "argument --b: is empty"),
    (["--out", "x.docx"], "cannot tell the format of 'x.docx'; use a suffix of: .md, .tex"),
    (["--out", "."], "argument --out: '.' names a folder"),
    (["--out", ""], "argument --out: is empty"),
    (["--out", "somedir/"], "argument --out: 'somedir/' names a folder"),
    (["--out", "somedir", "--format", "md"], "'somedir' is a folder"),
    (["--out", "link.md"], "'link.md' is a symbolic link; symgrad replaces only regular files"),
    (["--out", "fifo", "--format", "md"], "'fifo' is a FIFO; symgrad replaces only regular "
                                          "files"),
    (["--out", "/dev/null", "--format", "md"], "'/dev/null' is a device; symgrad replaces only"),
]


@pytest.mark.parametrize("args, message", EXAMPLE_CASES,
                         ids=[" ".join(args)[:40] for args, _ in EXAMPLE_CASES])
def test_example_refuses_in_one_line(folder, args, message):
    """Each bad input to `symgrad example` is one line naming it, exit 2, nothing written."""
    before = snapshot(folder)
    assert_refused(symgrad("example", *args, cwd=folder), message, before, folder)


def test_unreadable_spec(folder):
    """A spec that cannot be read is one line (when permissions apply, as to non-root)."""
    if os.geteuid() == 0:
        pytest.skip("root reads any file")
    before = snapshot(folder)
    assert_refused(symgrad("example", "--spec", "secret.toml", cwd=folder),
                   "cannot read spec file 'secret.toml': Permission denied", before, folder)


def test_sheet_refuses_empty_names(folder):
    """`sheet --loss=''` is an error, not the difficulty's default losses."""
    before = snapshot(folder)
    assert_refused(symgrad("sheet", "--loss=", "--out", "somedir", cwd=folder),
                   "argument --loss: is empty", before, folder)


@pytest.mark.parametrize("args, key, exact", [
    (["--b", "-2.5e-3"], "b", "-1/400"),
    (["--b", "\N{MINUS SIGN}2.5e-3"], "b", "-1/400"),
    (["--w", "-2/3"], "w", "-2/3"),
    (["--x", "-1.2,0.5", "--w", "1,1"], "w1", "1"),
    (["--lr", "-1e-1"], None, None),
])
def test_negative_numbers_in_every_documented_form(tmp_path, args, key, exact):
    """Negative numbers after a flag are values, not flags: --b -2.5e-3, --w -2/3,
    --x -1.2,0.5 (a negative learning rate reaches the model's own check)."""
    result = symgrad("example", *args, "--format", "json", cwd=tmp_path)
    if key is None:
        assert result.returncode == 2 and "learning rate must be positive" in result.stderr
        return
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["parameters"][key]["exact"] == exact


@pytest.mark.parametrize("answer, code, verdict", [
    ("-1.6", 0, "✓"), ("-8/5", 0, "✓"), ("-4/5", 1, "✗"), ("\N{MINUS SIGN}1.6", 0, "✓"),
])
def test_check_takes_negative_answers(tmp_path, answer, code, verdict):
    """`check --answer -4/5` and friends reach the checker instead of argparse's refusal."""
    result = symgrad("check", "--quantity", "dL/dw", "--answer", answer, cwd=tmp_path)
    assert result.returncode == code and result.stdout.startswith(verdict), result.stderr


def test_check_takes_a_negative_formula(tmp_path):
    """`check --answer "-2*(y-a)"` is read as a formula: the derivative of (a - y)^2."""
    result = symgrad("check", "--quantity", "dL/da", "--answer", "-2*(y-a)", cwd=tmp_path)
    assert result.returncode == 0 and result.stdout.startswith("✓"), result.stderr


def test_sheet_without_out_keeps_existing_files(tmp_path):
    """`sheet` without --out refuses to overwrite ./sheet.md; --force replaces it."""
    (tmp_path / "sheet.md").write_text("last week's sheet\n")
    before = snapshot(tmp_path)
    result = symgrad("sheet", "--count", "1", cwd=tmp_path)
    assert_refused(result, "sheet.md exists in the current folder; give --out DIR to write "
                           "elsewhere or --force to replace it", before, tmp_path)
    result = symgrad("sheet", "--count", "1", "--force", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "sheet.md").read_text() != "last week's sheet\n"
    assert (tmp_path / "key.md").is_file()


PAYLOAD = "{{ lipsum.__globals__['os'].popen('touch pwned').read() }}"


@pytest.mark.parametrize("template, message", [
    (PAYLOAD, "is not allowed to do that: access to attribute '__globals__'"),
    ("{{ d.__class__.__mro__ }}", "is not allowed to do that: access to attribute '__class__'"),
    ("{{ 'x' * 10**10 }}", "a repeated text longer than 64,000,000 characters"),
    ("{% for i in range(99999) %}{{ 'x' * 999 }}{% endfor %}", "makes more than 64,000,000"),
    ("{{ 10**100000 }}", "a power with more than 100,000 bits"),
    ("{{ 1/0 }}", "failed: ZeroDivisionError: division by zero"),
])
def test_templates_render_in_a_sandbox(tmp_path, template, message):
    """A teacher's template cannot run shell commands or exhaust memory: one line, exit 2,
    nothing run and nothing written."""
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "example.md.j2").write_text(template)
    before = snapshot(tmp_path)
    result = symgrad("example", "--templates", "mine", "--out", "lesson.md", cwd=tmp_path)
    assert_refused(result, message, before, tmp_path)
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize("args", [["example", "--out", "lesson.md"],
                                  ["sheet", "--count", "3", "--out", "week3"]])
def test_full_disk_is_one_line(tmp_path, args):
    """A write that fails for want of space (a file-size limit here) is one line, exit 2,
    and leaves no file or temporary behind."""
    (tmp_path / "week3").mkdir()
    before = snapshot(tmp_path)
    result = symgrad(*args, cwd=tmp_path, file_size=2000)
    assert_refused(result, "cannot write", before, tmp_path)
    assert "File too large" in result.stderr


def _poison(cache, marker):
    """Replace the code of every compiled template in ``cache`` with code that makes
    ``marker``, keeping Jinja's header and checksum so that the file would be loaded."""
    import marshal
    import pickle

    from jinja2.bccache import bc_magic

    for path in cache.iterdir():
        with path.open("rb") as stream:
            header = stream.read(len(bc_magic))
            checksum = pickle.load(stream)
        code = compile(f"open({str(marker)!r}, 'w').close()", "planted", "exec")
        path.write_bytes(header + pickle.dumps(checksum, 2) + marshal.dumps(code))


def test_planted_bytecode_runs_only_from_a_private_cache(tmp_path):
    """Compiled templates are loaded only from a 0700 folder of the user's: a planted file
    in a folder others can write to is ignored (and would have run from a private one)."""
    assert symgrad("example", cwd=tmp_path).returncode == 0
    cache = tmp_path / ".cache" / "symgrad" / next(
        p.name for p in (tmp_path / ".cache" / "symgrad").iterdir())
    assert cache.stat().st_mode & 0o777 == 0o700 and any(cache.iterdir())
    marker = tmp_path / "pwned"
    _poison(cache, marker)
    cache.chmod(0o777)
    result = symgrad("example", cwd=tmp_path)
    assert result.returncode == 0 and "Worked example" in result.stdout
    assert not marker.exists()
    cache.chmod(0o700)  # the same files in a private folder are trusted: the test has teeth
    symgrad("example", cwd=tmp_path)
    assert marker.exists()


@pytest.mark.parametrize("spoil", ["mode", "owner", "symlink"])
def test_unsafe_cache_folder_is_not_used(tmp_path, monkeypatch, spoil):
    """A cache folder others can write to, owned by someone else, or a symbolic link
    means no cache at all."""
    from symgrad.views.render import _bytecode_cache

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert _bytecode_cache() is not None
    folder = tmp_path / "symgrad"
    if spoil == "mode":
        folder.chmod(0o777)
    elif spoil == "owner":
        if os.geteuid() != 0:
            pytest.skip("only root can give a folder away")
        os.chown(folder, 12345, 12345)
    else:
        folder.rename(tmp_path / "real")
        folder.symlink_to(tmp_path / "real")
    assert _bytecode_cache() is None


def test_readable_cache_folder_is_narrowed(tmp_path, monkeypatch):
    """A cache folder of the user's that others may only read (an older symgrad made
    it 0755) is narrowed to 0700 and used."""
    from symgrad.views.render import _bytecode_cache

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    (tmp_path / "symgrad").mkdir(mode=0o755)
    (tmp_path / "symgrad").chmod(0o755)
    assert _bytecode_cache() is not None
    assert (tmp_path / "symgrad").stat().st_mode & 0o777 == 0o700


def test_full_standard_output_is_one_line(tmp_path):
    """`symgrad example > /dev/full` is one line naming the problem, exit 2."""
    with open("/dev/full", "w") as full:
        result = subprocess.run([sys.executable, "-m", "symgrad", "example"], cwd=tmp_path,
                                env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=full,
                                stderr=subprocess.PIPE, text=True, timeout=TIMEOUT,
                                preexec_fn=_limits())
    assert result.returncode == 2 and result.stderr == (
        "symgrad example: error: cannot write to standard output: No space left on device\n")


@pytest.mark.parametrize("args", [
    ["example", "--steps", "\N{ARABIC-INDIC DIGIT TWO}"], ["example", "--digits", "9" * 5000],
    ["sheet", "--count", "\N{FULLWIDTH DIGIT TWO}"], ["sheet", "--seed", "1_0"],
    ["sheet", "--inputs", ""],
])
def test_whole_numbers_are_ascii(tmp_path, args):
    """Whole-number flags take ASCII digits only, in one line when they do not."""
    before = snapshot(tmp_path)
    assert_refused(symgrad(*args, cwd=tmp_path), "must be a whole number such as 3", before,
                   tmp_path)
