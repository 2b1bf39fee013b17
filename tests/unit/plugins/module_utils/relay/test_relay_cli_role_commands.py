# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the relay_helper role runs on a host: the code bundle unpacked by roles/relay_helper/files/unpack_bundle.py,
then ``python -m <package>._relay check-config FILE`` and ``hash-secret --keep-matching``, as real processes."""
from __future__ import annotations

import glob
import hashlib
import json
import os
import subprocess
import sys

import pytest
from relay_unit_support import base_config

from ansible_collections.xoauth2.mail.plugins.module_utils._relay import secrets

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), *[".."] * 5))
SOURCE = os.path.join(REPO, "plugins", "module_utils")
UNPACK = os.path.join(REPO, "roles", "relay_helper", "files", "unpack_bundle.py")
PACKAGE = "xoauth2_relay_core"


def write_bundle(path, files):
    raw = json.dumps(files, sort_keys=True).encode("utf-8") + b"\n"
    with open(path, "wb") as handle:
        handle.write(raw)
    return hashlib.sha1(raw).hexdigest()


def unpack(bundle, target):
    # as the role does: python -c "<the file's text>" BUNDLE TARGET
    with open(UNPACK, encoding="utf-8") as handle:
        program = handle.read()
    return subprocess.run([sys.executable, "-c", program, str(bundle), str(target)], capture_output=True, text=True,
                          timeout=60, check=False)


@pytest.fixture(scope="module")
def lib_dir(tmp_path_factory):
    """The helper's code installed the way the role installs it (the core and _relay, as one package)."""
    lib = tmp_path_factory.mktemp("lib")
    paths = sorted(glob.glob(os.path.join(SOURCE, "*.py")) + glob.glob(os.path.join(SOURCE, "_relay", "*.py")))
    files = {}
    for path in paths:
        with open(path, encoding="utf-8") as handle:
            files[os.path.relpath(path, SOURCE)] = handle.read()
    checksum = write_bundle(lib / "bundle.json", files)
    proc = unpack(lib / "bundle.json", lib / PACKAGE)
    assert proc.returncode == 0, proc.stderr
    assert (lib / PACKAGE / ".bundle-checksum").read_text() == checksum
    return lib


def cli(lib_dir, *args, stdin=""):
    env = dict(os.environ, PYTHONPATH=str(lib_dir), PYTHONDONTWRITEBYTECODE="1")
    return subprocess.run([sys.executable, "-m", PACKAGE + "._relay"] + list(args), input=stdin, capture_output=True,
                          text=True, env=env, cwd=str(lib_dir), timeout=60, check=False)


def test_unpacking_replaces_the_folder_and_refuses_unsafe_paths(tmp_path):
    target = tmp_path / "pkg"
    write_bundle(tmp_path / "one.json", {"a.py": "A = 1\n", "sub/b.py": "B = 2\n"})
    assert unpack(tmp_path / "one.json", target).returncode == 0
    write_bundle(tmp_path / "two.json", {"a.py": "A = 3\n"})
    assert unpack(tmp_path / "two.json", target).returncode == 0
    assert (target / "a.py").read_text() == "A = 3\n" and not (target / "sub").exists()
    write_bundle(tmp_path / "bad.json", {"../escape.py": "x"})
    proc = unpack(tmp_path / "bad.json", target)
    assert proc.returncode == 1 and "unsafe path" in proc.stderr
    assert not (tmp_path / "escape.py").exists() and (target / "a.py").read_text() == "A = 3\n"


def test_check_config_accepts_a_valid_file(lib_dir, tmp_path):
    path = tmp_path / "relay.json"
    path.write_text(json.dumps(base_config(tmp_path)))
    proc = cli(lib_dir, "check-config", str(path))
    assert proc.returncode == 0, proc.stderr
    assert "valid, 1 account" in proc.stdout


def test_check_config_names_the_key_at_fault_and_never_a_secret(lib_dir, tmp_path):
    data = base_config(tmp_path, local_secret="hunter2-secret")
    data["accounts"][0]["upstream"]["port"] = "not a port"
    path = tmp_path / "relay.json"
    path.write_text(json.dumps(data))
    proc = cli(lib_dir, "check-config", str(path))
    assert proc.returncode == 2
    assert "configuration error" in proc.stderr and "port" in proc.stderr
    assert "hunter2-secret" not in proc.stderr + proc.stdout


def test_check_config_reads_the_c_file_when_no_file_is_named(lib_dir, tmp_path):
    proc = cli(lib_dir, "-c", str(tmp_path / "missing.json"), "check-config")
    assert proc.returncode == 2 and "missing.json" in proc.stderr


def test_hash_secret_keep_matching_keeps_a_matching_hash_and_replaces_others(lib_dir):
    stored = secrets.hash_secret("s3cret", iterations=1000)
    kept = cli(lib_dir, "hash-secret", "--keep-matching", stdin="s3cret\n%s\n" % stored)
    assert kept.returncode == 0 and kept.stdout.strip() == stored
    new = cli(lib_dir, "hash-secret", "--keep-matching", stdin="other\n%s\n" % stored).stdout.strip()
    assert new != stored and secrets.SecretVerifier(stored_hash=new).verify("other")
    first = cli(lib_dir, "hash-secret", "--keep-matching", stdin="s3cret\n").stdout.strip()
    assert secrets.SecretVerifier(stored_hash=first).verify("s3cret")
    assert "s3cret" not in first


@pytest.mark.parametrize("stored", ["", "not-a-hash", "pbkdf2_sha256$x$y$z"])
def test_hash_unless_matching_makes_a_new_hash_for_nothing_or_garbage(stored):
    result = secrets.hash_unless_matching("s3cret", stored)
    assert result != stored and secrets.SecretVerifier(stored_hash=result).verify("s3cret")


def test_an_empty_secret_is_refused(lib_dir):
    proc = cli(lib_dir, "hash-secret", "--keep-matching", stdin="\n")
    assert proc.returncode == 2 and "empty secret" in proc.stderr
