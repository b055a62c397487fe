"""The grading kernel's sandbox, each case in a fresh Python with the hook installed (an audit
hook cannot be removed, so never in the test process itself)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from workbook.instructor import sandbox

PROBE = textwrap.dedent("""
    import json, os, pathlib, shutil, subprocess, sys, tempfile
    from workbook.instructor.sandbox import install
    install()
    outcome = {}
    def attempt(name, action):
        try:
            action()
            outcome[name] = "allowed"
        except PermissionError as error:
            outcome[name] = "refused" if "sandbox" in str(error) else f"other: {error}"
        except (OSError, subprocess.CalledProcessError) as error:
            outcome[name] = f"other: {error}"
    outside = sys.argv[1]
    attempt("open ..", lambda: open("/tmp/../" + outside.lstrip("/") + "/a", "w"))
    attempt("Path.write_text", lambda: pathlib.Path(outside, "b").write_text("x"))
    attempt("shutil.copy", lambda: shutil.copy("mine.txt", os.path.join(outside, "c")))
    attempt("os.system", lambda: os.system("true"))
    attempt("shell program", lambda: subprocess.run(["sh", "-c", "true"]))
    attempt("os.mkdir", lambda: os.mkdir(os.path.join(outside, "d")))
    attempt("os.remove", lambda: os.remove(os.path.join(outside, "existing")))
    attempt("os.rename out", lambda: os.rename("mine.txt", os.path.join(outside, "e")))
    attempt("write here", lambda: open("mine.txt", "w").write("x"))
    attempt("write subfolder", lambda: (os.makedirs("sub/dir", exist_ok=True), open("sub/dir/f", "w").close()))
    attempt("temp file", lambda: tempfile.NamedTemporaryFile(delete=False).close())
    attempt("dev null", lambda: subprocess.run([sys.executable, "-c", "pass"], stdout=subprocess.DEVNULL))
    attempt("read elsewhere", lambda: open("/etc/hostname").read() if os.path.exists("/etc/hostname") else None)
    attempt("python child writing outside", lambda: subprocess.run(
        [sys.executable, "-c", f"open({os.path.join(outside, 'g')!r}, 'w')"], check=True, capture_output=True))
    attempt("read a private file", lambda: open(os.path.join(sys.argv[2], "credentials")).read())
    attempt("read another process's environment", lambda: open(f"/proc/{os.getppid()}/environ", "rb").read())
    attempt("python child with a clean env", lambda: subprocess.run([sys.executable, "-c", "pass"], env={}))
    print(json.dumps(outcome))
""")


@pytest.fixture(scope="module")
def outcome(tmp_path_factory):
    base = tmp_path_factory.mktemp("sandbox")
    work, tmp, outside = base / "work", base / "tmp", base / "outside"
    for folder in (work, tmp, outside):
        folder.mkdir()
    (work / "mine.txt").write_text("mine")
    (outside / "existing").write_text("keep me")
    private = base / "home" / ".aws"
    private.mkdir(parents=True)
    (private / "credentials").write_text("[default]\naws_secret_access_key = instructor")
    env = {"PATH": "/usr/bin:/bin", "TMPDIR": str(tmp), sandbox.TMP_VARIABLE: str(tmp),
           sandbox.LOG_VARIABLE: str(base / "sandbox.log"),
           sandbox.PRIVATE_VARIABLE: os.pathsep.join(sandbox.private_paths(str(base / "home"), str(base)))}
    done = subprocess.run([sys.executable, "-c", PROBE, str(outside), str(private)], cwd=work, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1]), outside, sandbox.violations(base / "sandbox.log")


@pytest.mark.parametrize("action", ["open ..", "Path.write_text", "shutil.copy", "os.system", "shell program",
                                    "os.mkdir", "os.remove", "os.rename out", "python child writing outside",
                                    "python child with a clean env", "read a private file",
                                    "read another process's environment"])
def test_writes_outside_and_other_programs_are_refused(outcome, action):
    results, _, _ = outcome
    expected = "other: " if action == "python child writing outside" else "refused"
    # The Python child is refused inside the child (its own sandbox): it exits with an error.
    assert results[action].startswith(expected), results[action]


@pytest.mark.parametrize("action", ["write here", "write subfolder", "temp file", "dev null", "read elsewhere"])
def test_the_notebooks_own_folder_its_temp_folder_and_reading_are_allowed(outcome, action):
    results, _, _ = outcome
    assert results[action] == "allowed", results[action]


def test_nothing_was_written_outside_and_every_refusal_is_logged(outcome):
    results, outside, log = outcome
    assert sorted(p.name for p in outside.iterdir()) == ["existing"]
    assert (outside / "existing").read_text() == "keep me"
    refused = sum(1 for value in results.values() if value == "refused")
    assert len(log) >= refused + 1  # + the Python child's own refusal
    assert any(line.startswith("writing ") and line.endswith("/a") and "/tmp/.." not in line for line in log), log
    assert any("os.system" in line for line in log)


def test_allowed_resolves_dot_dot_and_symlinks(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    (root / "link").symlink_to("/etc")
    roots = [str(root.resolve())]
    assert sandbox.allowed("x.txt", roots, cwd=str(root))
    assert not sandbox.allowed("../x.txt", roots, cwd=str(root))
    assert not sandbox.allowed("link/passwd", roots, cwd=str(root))
    assert not sandbox.allowed(str(root) + "-sibling/x", roots)
    assert sandbox.allowed("/dev/null", roots)
