# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The oauth_token lookup in real plays (ansible-playbook) against the test identity provider."""
from __future__ import annotations

import base64
import glob
import os
import stat

import pytest

pytestmark = pytest.mark.integration

ALICE = "alice@example.test"


def make_token_task(stack, path, key_text, delegated_seed=None):
    """YAML of an oauth_mail_token task that writes a token file on the controller (localhost)."""
    if delegated_seed:
        creds = "client_id: device-public\n        refresh_token: %s" % delegated_seed
    else:
        creds = "client_id: relay-app\n        client_secret: %s\n        scopes: [mail.send]" % (
            stack.clients["relay-app"])
    return """
    - name: make the token file
      xoauth2.mail.oauth_mail_token:
        path: %s
        provider: oidc
        authority: %s
        %s
        username: %s
        encryption_key: %s
        ca_path: %s
""" % (path, stack.issuer, creds, ALICE, key_text, stack.ca_file)


def make_token_file(playbook, stack, path, key_text, delegated_seed=None):
    rc, out = playbook("""
- hosts: h0
  gather_facts: false
  tasks:
%s
""" % make_token_task(stack, path, key_text, delegated_seed))
    assert rc == 0, out
    return path


def test_token_file_outputs_without_extra_requests(playbook, stack, idp, key_text, tmp_path):
    path = str(tmp_path / "relay.token")
    rc, out = playbook("""
- hosts: h0
  gather_facts: false
  vars:
    xoauth2_mail_encryption_key: %(key)s
  tasks:
%(make)s
    - name: many lookups, three outputs
      ansible.builtin.copy:
        dest: "%(dir)s/{{ item.1 }}.{{ item.0 }}"
        content: "{{ lookup('xoauth2.mail.oauth_token', '%(path)s', output=item.1) }}"
        mode: '0600'
      loop: "{{ range(5) | product(['access_token', 'bearer', 'xoauth2']) | list }}"
      no_log: true
""" % dict(key=key_text, make=make_token_task(stack, path, key_text), dir=tmp_path, path=path))
    assert rc == 0, out
    counters = idp.counters()
    assert counters["token"] == 1, counters  # the module's acquisition only
    tokens = {open(f).read() for f in glob.glob(str(tmp_path / "access_token.*"))}
    assert len(tokens) == 1
    token = tokens.pop()
    assert idp.introspect(token)["active"] is True
    assert {open(f).read() for f in glob.glob(str(tmp_path / "bearer.*"))} == {"Bearer " + token}
    [sasl] = {open(f).read() for f in glob.glob(str(tmp_path / "xoauth2.*"))}
    assert base64.b64decode(sasl).decode() == "user=%s\x01auth=Bearer %s\x01\x01" % (ALICE, token)
    assert token not in out


def test_relative_term_is_searched_in_files(playbook, stack, idp, key_text, tmp_path):
    (tmp_path / "files").mkdir()
    make_token_file(playbook, stack, str(tmp_path / "files" / "relay.token"), key_text)
    rc, out = playbook("""
- hosts: h0
  gather_facts: false
  tasks:
    - ansible.builtin.assert:
        that:
          - lookup('xoauth2.mail.oauth_token', 'relay.token', encryption_key='%(key)s') | length > 10
          - lookup('xoauth2.mail.oauth_token', 'files/relay.token', encryption_key='%(key)s') | length > 10
""" % dict(key=key_text))
    assert rc == 0, out


def test_options_from_environment_and_ansible_cfg(playbook, stack, idp, key_text, tmp_path):
    path = str(tmp_path / "relay.token")
    key_file = tmp_path / "token.key"
    key_file.write_text(key_text + "\n")
    text = """
- hosts: h0
  gather_facts: false
  tasks:
    - ansible.builtin.assert:
        that: lookup('xoauth2.mail.oauth_token', '%s') | length > 10
""" % path
    # One run makes the token file (its task names its key) and reads it with the key file from the environment.
    rc, out = playbook("""
- hosts: h0
  gather_facts: false
  tasks:
%s
%s""" % (make_token_task(stack, path, key_text), text), env={"XOAUTH2_MAIL_ENCRYPTION_KEY_FILE": str(key_file)})
    assert rc == 0, out
    cfg = tmp_path / "ansible.cfg"
    cfg.write_text("[xoauth2_mail]\nencryption_key_file = %s\n" % key_file)
    rc, out = playbook(text, env={"ANSIBLE_CONFIG": str(cfg)})
    assert rc == 0, out
    cfg.unlink()  # (ansible also reads ./ansible.cfg)
    rc, out = playbook(text)  # and without any key: a clear configuration error
    assert rc != 0 and "error_category=configuration" in out and "encryption_key" in out


def test_client_credentials_are_cached_encrypted_across_runs(playbook, stack, idp, tmp_path):
    cache = tmp_path / "cache"
    text = """
- hosts: h0
  gather_facts: false
  tasks:
    - ansible.builtin.copy:
        dest: "%(dir)s/cc.{{ item }}"
        content: "{{ lookup('xoauth2.mail.oauth_token', provider='oidc', authority='%(issuer)s',
                    client_id='relay-app', client_secret='%(secret)s', scopes=['mail.send'],
                    ca_path='%(ca)s', cache_dir='%(cache)s') }}"
        mode: '0600'
      loop: [1, 2, 3, 4, 5]
      no_log: true
""" % dict(dir=tmp_path, issuer=stack.issuer, secret=stack.clients["relay-app"], ca=stack.ca_file, cache=cache)
    # The same play twice in one run: each play's task runs in a fresh worker process, so the second one
    # finds the token only in the encrypted cache on disk, as a second run would (one ansible-playbook less).
    rc, out = playbook(text + text)
    assert rc == 0, out
    assert out.count("PLAY [h0]") == 2, out
    assert idp.counters()["token"] == 1
    tokens = {open(f).read() for f in glob.glob(str(tmp_path / "cc.*"))}
    assert len(tokens) == 1
    token = tokens.pop()
    assert idp.introspect(token)["active"] is True
    assert stat.S_IMODE(os.stat(cache).st_mode) == 0o700
    cached = [f for f in os.listdir(cache) if f.startswith("token-") and f.endswith(".json")]
    assert len(cached) == 1
    raw = open(os.path.join(cache, cached[0])).read()
    assert token not in raw and stack.clients["relay-app"] not in raw
    assert stat.S_IMODE(os.stat(os.path.join(cache, cached[0])).st_mode) == 0o600


@pytest.mark.slow
def test_fifty_forks_refresh_a_delegated_token_once(playbook, stack, idp, key_text, tmp_path):
    seed = idp.mint(client_id="device-public", account=ALICE, scope="openid offline_access mail.send")
    idp.configure(access_token_ttl=60)
    path = make_token_file(playbook, stack, str(tmp_path / "alice.token"), key_text,
                           delegated_seed=seed["refresh_token"])
    idp.reset()  # counters to zero, access tokens live 3600 s again
    rc, out = playbook("""
- hosts: local
  gather_facts: false
  tasks:
    - ansible.builtin.copy:
        dest: "%(dir)s/fork.{{ inventory_hostname }}"
        content: "{{ lookup('xoauth2.mail.oauth_token', '%(path)s', encryption_key='%(key)s', ca_path='%(ca)s') }}"
        mode: '0600'
      no_log: true
""" % dict(dir=tmp_path, path=path, key=key_text, ca=stack.ca_file), "--forks", "50", hosts=50)
    assert rc == 0, out[-3000:]
    counters = idp.counters()
    assert counters["token"] == 1, counters
    tokens = {open(f).read() for f in glob.glob(str(tmp_path / "fork.*"))}
    assert len(glob.glob(str(tmp_path / "fork.*"))) == 50 and len(tokens) == 1
    assert idp.introspect(tokens.pop())["active"] is True
    # The rotated refresh token was saved: two more refreshes in a row work (a replay would revoke the grant).
    rc, out = playbook("""
- hosts: h0
  gather_facts: false
  tasks:
    - xoauth2.mail.oauth_mail_token:
        path: %(path)s
        state: refreshed
        encryption_key: %(key)s
        ca_path: %(ca)s
      loop: [1, 2]
""" % dict(path=path, key=key_text, ca=stack.ca_file))
    assert rc == 0, out


def debug_lookup_play(stack, path, key_text, more_options=""):
    """A play that shows the lookup's token for ``path`` (it fails when the lookup fails)."""
    return """
- hosts: h0
  gather_facts: false
  tasks:
    - ansible.builtin.debug:
        msg: "{{ lookup('xoauth2.mail.oauth_token', '%(path)s', encryption_key='%(key)s', ca_path='%(ca)s'%(more)s) }}"
""" % dict(path=path, key=key_text, ca=stack.ca_file, more=more_options)


def test_revoked_grant_is_reauth_required_and_the_file_is_kept(playbook, stack, idp, key_text, tmp_path):
    seed = idp.mint(client_id="device-public", account=ALICE, scope="openid offline_access mail.send")
    idp.configure(access_token_ttl=60)
    path = make_token_file(playbook, stack, str(tmp_path / "alice.token"), key_text,
                           delegated_seed=seed["refresh_token"])
    idp.revoke(account=ALICE)
    before = open(path, "rb").read()
    rc, out = playbook(debug_lookup_play(stack, path, key_text))
    assert rc != 0
    assert "error_category=reauth_required" in out and "invalid_grant" in out
    assert "Traceback" not in out
    assert seed["refresh_token"] not in out and key_text not in out.replace("encryption_key='%s'" % key_text, "")
    assert open(path, "rb").read() == before


def test_provider_outage_is_temporary(playbook, stack, idp, key_text, tmp_path):
    idp.configure(client_credentials_ttl=60)
    path = make_token_file(playbook, stack, str(tmp_path / "relay.token"), key_text)
    idp.fault(endpoint="token", mode="status", status=503, count=-1)
    before = open(path, "rb").read()
    rc, out = playbook(debug_lookup_play(stack, path, key_text, ", retries=1, timeout=10"))
    assert rc != 0 and "error_category=temporary" in out, out[-2000:]
    assert stack.clients["relay-app"] not in out
    assert open(path, "rb").read() == before


def test_xoauth2_output_logs_in_to_the_real_imap_server(playbook, mail_stack, idp, key_text, tmp_path):
    import imaplib

    path = make_token_file(playbook, mail_stack, str(tmp_path / "relay.token"), key_text)
    rc, out = playbook("""
- hosts: h0
  gather_facts: false
  tasks:
    - ansible.builtin.copy:
        dest: "%(dir)s/sasl"
        content: "{{ lookup('xoauth2.mail.oauth_token', '%(path)s', encryption_key='%(key)s', output='xoauth2') }}"
        mode: '0600'
      no_log: true
""" % dict(dir=tmp_path, path=path, key=key_text))
    assert rc == 0, out
    sasl = open(str(tmp_path / "sasl")).read()
    conn = imaplib.IMAP4_SSL("127.0.0.1", mail_stack.imaps_port, ssl_context=mail_stack.ssl_context(), timeout=10)
    try:
        # imaplib base64-encodes what the callback returns: hand it the raw initial response.
        typ, dummy = conn.authenticate("XOAUTH2", lambda challenge: base64.b64decode(sasl))
        assert typ == "OK"
        assert conn.select("INBOX", readonly=True)[0] == "OK"
    finally:
        conn.logout()
