# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The release artefact: ansible-galaxy collection build -> install --offline into a fresh path -> ansible-doc.

The build runs on a copy of the checkout's files (tracked and new, as git sees them)
plus the leftovers a developer's tree has (caches, venvs, node_modules, the
pytest-ansible symlink farm), which galaxy.yml's build_ignore must keep out.
"""
from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
import tarfile

import pytest

from xoauth2_playbook import REPO, playbook_env

pytestmark = pytest.mark.integration

BIN = os.path.dirname(sys.executable)
LEFTOVERS = [
    ".venv/lib/x.py", ".build/collections/x", ".hypothesis/examples/x", ".pytest_cache/v/x",
    "tests/.pytest_cache/v/x", "tests/unit/__pycache__/x.cpython-312.pyc", "tests/stack/idp/node_modules/pkg/x.js",
    "collections/ansible_collections/x", ".cache/x", ".ansible/x", "tests/output/x", "docs/build/x", ".docsite/x",
    "htmlcov/x", ".coverage", ".tox/x", "extensions/molecule/default/.cache/x", "xoauth2-mail-0.0.1.tar.gz",
]
FORBIDDEN = (".venv", ".build", ".hypothesis", ".pytest_cache", "__pycache__", "node_modules", "collections",
             ".cache", ".ansible", "tests/output", "docs/build", ".docsite", "htmlcov", ".coverage", ".tox", ".git")
SIZE_LIMIT = 2 * 1024 * 1024  # bytes; about 0.4 MiB today


def _source_files():
    listing = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                             capture_output=True, check=True).stdout.decode()
    return [name for name in listing.split("\0") if name and os.path.isfile(os.path.join(REPO, name))]


def _env(collections_path):
    env = playbook_env({"ANSIBLE_COLLECTIONS_PATH": collections_path, "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "False"})
    env.pop("PYTHONPATH", None)
    return env


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("build")
    tree = root / "src"
    for name in _source_files():
        os.makedirs(os.path.dirname(tree / name), exist_ok=True)
        shutil.copy2(os.path.join(REPO, name), tree / name)
    for name in LEFTOVERS:
        os.makedirs(os.path.dirname(tree / name), exist_ok=True)
        (tree / name).write_text("left over\n")
    out = root / "out"
    subprocess.run([os.path.join(BIN, "ansible-galaxy"), "collection", "build", str(tree), "--output-path", str(out)],
                   check=True, capture_output=True, env=_env(str(root / "none")), timeout=300)
    (tarball,) = glob.glob(str(out / "xoauth2-mail-*.tar.gz"))
    return root, tarball


def test_tarball_holds_sources_only(built):
    tarball = built[1]
    with tarfile.open(tarball) as archive:
        names = archive.getnames()
    leaked = [n for n in names if any(n == f or n.startswith(f + "/") or ("/" + f + "/") in ("/" + n + "/")
                                      for f in FORBIDDEN)]
    assert leaked == []
    for needed in ("MANIFEST.json", "FILES.json", "meta/runtime.yml", "meta/execution-environment.yml",
                   "requirements.txt", "extensions/aap/credential_types.yml", "docs/aap.md",
                   "plugins/lookup/oauth_token.py", "roles/relay_helper/meta/argument_specs.yml"):
        assert needed in names
    assert os.path.getsize(tarball) < SIZE_LIMIT, os.path.getsize(tarball)


def test_installs_offline_and_ansible_doc_shows_every_plugin(built):
    root, tarball = built
    dest = root / "fresh"
    subprocess.run([os.path.join(BIN, "ansible-galaxy"), "collection", "install", "--offline", "-p", str(dest),
                    tarball], check=True, capture_output=True, env=_env(str(dest)), timeout=300)
    installed = dest / "ansible_collections" / "xoauth2" / "mail"
    assert (installed / "MANIFEST.json").is_file()
    plugins = {
        "module": sorted(os.path.basename(p)[:-3] for p in glob.glob(str(installed / "plugins/modules/*.py"))),
        "lookup": sorted(os.path.basename(p)[:-3] for p in glob.glob(str(installed / "plugins/lookup/*.py"))),
        "role": sorted(os.path.basename(p) for p in glob.glob(str(installed / "roles/*"))),
    }
    assert plugins["module"] == ["oauth_mail_check", "oauth_mail_token", "postconf"]
    assert plugins["lookup"] == ["oauth_token"] and plugins["role"] == ["postfix_relay", "relay_helper"]
    for plugin_type, names in plugins.items():
        _shows_docs_from(dest, plugin_type, ["xoauth2.mail." + name for name in names])
    listed = subprocess.run([os.path.join(BIN, "ansible-doc"), "-t", "module", "-l", "xoauth2.mail"],
                            capture_output=True, text=True, env=_env(str(dest)), timeout=300, check=True).stdout
    assert all("xoauth2.mail." + name in listed for name in plugins["module"])


def _shows_docs_from(dest, plugin_type, fqcns):
    proc = subprocess.run([os.path.join(BIN, "ansible-doc"), "-t", plugin_type, "--json"] + fqcns,
                          capture_output=True, text=True, env=_env(str(dest)), timeout=300, check=False)
    # ansible-core 2.21 warns about its own internal collection when listing roles: only ours count
    ours = [line for line in proc.stderr.splitlines() if "WARNING" in line and "xoauth2" in line]
    assert proc.returncode == 0 and ours == [], proc.stderr
    docs = json.loads(proc.stdout)
    assert sorted(docs) == fqcns, proc.stderr
    for fqcn, doc in docs.items():
        if plugin_type == "role":
            description, path = doc["entry_points"]["main"]["short_description"], doc["path"]
        else:
            description, path = doc["doc"]["short_description"], doc["doc"]["filename"]
        assert description, fqcn
        assert path.startswith(str(dest)), path
