# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The relay_helper role's code and configuration tasks run by ansible-playbook into a tmp folder.

They call the helper's own command line (hash-secret --keep-matching, check-config) from the code the
role unpacks; no service is started (extensions/molecule/relay_e2e covers the whole role).
"""
from __future__ import annotations

import base64
import json
import os
import subprocess
import sys

import pytest

from local_play import local_play

PLAYBOOK = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the role's files belong to root")

PLAY_NAME = "The role's code and configuration tasks only"
PLAY = """
    relay_helper_python: {python}
    relay_helper_venv: {venv}
    relay_helper_lib_dir: {tmp}/lib
    relay_helper_command_path: ""
    relay_helper_config_file: {tmp}/config.json
    relay_helper_user: root
    relay_helper_group: root
    relay_helper_service_state: stopped
    relay_helper__manager: init
    relay_helper__venv_exists: true
    relay_helper__accounts:
      - name: alice
        token_file: {tmp}/alice.token
        key_file: {tmp}/token.key
        local_username: alice
        local_secret: "{secret}"
        upstream: {{host: smtp.example.test, security: starttls, port: "{port}"}}
      - name: bob
        token_file: {tmp}/bob.token
        key_file: {tmp}/token.key
        local_username: bob
        local_secret_hash: "{bob_hash}"
        upstream: {{host: smtp.example.test, security: starttls}}
  tasks:
    - name: Code
      ansible.builtin.include_role:
        name: xoauth2.mail.relay_helper
        tasks_from: code.yml
    - name: Configuration
      ansible.builtin.include_role:
        name: xoauth2.mail.relay_helper
        tasks_from: config.yml
"""


def run(tmp_path, secret="s3cret-alice", port=587):
    from ansible_collections.xoauth2.mail.plugins.module_utils._relay.secrets import hash_secret
    bob_hash = getattr(run, "bob_hash", None) or hash_secret("bob-secret", iterations=1000)
    run.bob_hash = bob_hash
    (tmp_path / "lib").mkdir(exist_ok=True)
    if not (tmp_path / "token.key").exists():
        (tmp_path / "token.key").write_text(base64.b64encode(os.urandom(32)).decode() + "\n")
    play = tmp_path / "play.yml"
    rest = PLAY.format(python=sys.executable, venv=os.path.dirname(os.path.dirname(sys.executable)), tmp=tmp_path,
                       secret=secret, port=port, bob_hash=bob_hash)
    play.write_text(local_play(PLAY_NAME, rest))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, ".build", "collections"),
               ANSIBLE_NOCOLOR="1", ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"), ANSIBLE_HOME=str(tmp_path / "home"))
    proc = subprocess.run([PLAYBOOK, "-i", "localhost,", str(play)], capture_output=True, stdin=subprocess.DEVNULL, text=True, env=env,
                          cwd=str(tmp_path), timeout=600, check=False)
    return proc.returncode, proc.stdout + proc.stderr


def accounts(tmp_path):
    return {a["name"]: a for a in json.loads((tmp_path / "config.json").read_text())["accounts"]}


def test_hashes_settle_and_a_bad_configuration_is_refused(tmp_path):
    from ansible_collections.xoauth2.mail.plugins.module_utils._relay.secrets import SecretVerifier
    rc, out = run(tmp_path)
    assert rc == 0, out[-4000:]
    first = accounts(tmp_path)
    assert SecretVerifier(stored_hash=first["alice"]["local_secret_hash"]).verify("s3cret-alice")
    assert first["bob"]["local_secret_hash"] == run.bob_hash
    assert "s3cret-alice" not in out and "s3cret-alice" not in (tmp_path / "config.json").read_text()

    # the same secret: the stored hash is kept, so the file does not change
    rc, out = run(tmp_path)
    assert rc == 0 and "changed=0" in out, out[-4000:]
    assert accounts(tmp_path) == first

    # another secret: a new hash
    rc, out = run(tmp_path, secret="another-secret")
    assert rc == 0 and "changed=1" in out, out[-4000:]
    assert SecretVerifier(stored_hash=accounts(tmp_path)["alice"]["local_secret_hash"]).verify("another-secret")

    # check-config refuses a port out of range; the file in place stays as it was
    before = (tmp_path / "config.json").read_text()
    rc, out = run(tmp_path, secret="another-secret", port=70000)
    assert rc != 0 and "port" in out, out[-4000:]
    assert (tmp_path / "config.json").read_text() == before
