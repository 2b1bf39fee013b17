# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The AAP credential types of extensions/aap/credential_types.yml, injected as the controller injects them.

The injectors are rendered the controller's way (awx_injectors.py), and ansible-playbook
then runs the lookup and both modules against the real test stack with nothing but
what the injector set (plus the test CA, which a real provider would not need).
"""
from __future__ import annotations

import base64
import datetime
import json
import os
import subprocess
import sys

import pytest

from awx_injectors import inject, load_types, validate
from xoauth2_playbook import REPO, playbook_env, run_playbook

pytestmark = pytest.mark.integration

TYPES_FILE = os.path.join(REPO, "extensions", "aap", "credential_types.yml")
SECRET_TYPE = "xoauth2.mail OAuth2 client secret"
CERTIFICATE_TYPE = "xoauth2.mail Microsoft client certificate"
ALICE = "alice@example.test"

# What docs/aap.md tells users to put on their plays.
MODULE_DEFAULTS = """
  module_defaults:
    group/xoauth2.mail.oauth:
      provider: "{{ xoauth2_mail_provider }}"
      authority: "{{ xoauth2_mail_authority | default(omit, true) }}"
      client_id: "{{ xoauth2_mail_client_id }}"
      client_secret: "{{ xoauth2_mail_client_secret | default(omit) }}"
      encryption_key: "{{ xoauth2_mail_encryption_key }}"
      ca_path: %(ca)s
"""


@pytest.fixture(scope="module")
def types():
    return load_types(TYPES_FILE)


def test_both_types_pass_the_controllers_checks(types):
    assert set(types) == {SECRET_TYPE, CERTIFICATE_TYPE}
    for credential_type in types.values():
        assert validate(credential_type) == [], credential_type["name"]


def test_validation_catches_a_broken_type(types):
    broken = json.loads(json.dumps(types[SECRET_TYPE]))
    broken["injectors"]["extra_vars"]["xoauth2_mail_client_id"] = "{{ clientid }}"
    broken["injectors"]["env"] = {"ANSIBLE_CONFIG": "{{ client_id }}"}
    problems = validate(broken)
    assert any("clientid" in p for p in problems) and any("ANSIBLE_CONFIG" in p for p in problems)


@pytest.mark.parametrize("name,secrets", [
    (SECRET_TYPE, {"client_secret", "encryption_key"}),
    (CERTIFICATE_TYPE, {"client_certificate", "encryption_key"}),
])
def test_secrets_are_secret_and_required(types, name, secrets):
    fields = {field["id"]: field for field in types[name]["inputs"]["fields"]}
    assert {fid for fid, field in fields.items() if field.get("secret")} == secrets
    # an input left empty would be injected as "", which the collection refuses for a secret
    assert secrets <= set(types[name]["inputs"]["required"])


def _lookup_vars():
    proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-doc"), "-t", "lookup", "-j",
                           "xoauth2.mail.oauth_token"], capture_output=True, text=True, env=playbook_env(),
                          check=True, timeout=120)
    options = json.loads(proc.stdout)["xoauth2.mail.oauth_token"]["doc"]["options"]
    return {entry["name"]: option for option, spec in options.items() for entry in spec.get("vars") or []}


def test_every_injected_variable_is_an_option_the_lookup_reads(types):
    read = _lookup_vars()
    for credential_type in types.values():
        for name in credential_type["injectors"]["extra_vars"]:
            assert name in read, "%s injects %s, which the lookup does not read" % (credential_type["name"], name)
            assert name == "xoauth2_mail_" + read[name]


@pytest.mark.parametrize("inputs,authority", [
    ({"provider": "microsoft", "tenant_id": "contoso.onmicrosoft.com"},
     "https://login.microsoftonline.com/contoso.onmicrosoft.com"),
    ({"provider": "microsoft", "tenant_id": "x", "authority": "https://login.microsoftonline.us/x"},
     "https://login.microsoftonline.us/x"),
    ({"provider": "google", "tenant_id": "", "authority": ""}, "https://accounts.google.com"),
    ({"provider": "oidc", "authority": "https://idp.example.test/idp"}, "https://idp.example.test/idp"),
])
def test_authority_from_tenant_or_issuer(types, tmp_path, inputs, authority):
    inputs = dict(inputs, client_id="app", client_secret="s3cret", encryption_key="k")
    env, args = inject(types[SECRET_TYPE], inputs, str(tmp_path))
    assert env == {} and args[0] == "-e"
    text = open(args[1][1:]).read()
    assert "xoauth2_mail_authority: !unsafe '%s'" % authority in text
    assert "xoauth2_mail_client_secret: !unsafe 's3cret'" in text


def _playbook_with(tmp_path, stack, tasks):
    return """
- hosts: h0
  gather_facts: false
%s
  tasks:
%s
""" % (MODULE_DEFAULTS % {"ca": stack.ca_file}, tasks)


def test_secret_type_runs_lookup_and_modules_against_the_stack(types, mail_stack, idp, tmp_path):
    key = base64.b64encode(os.urandom(32)).decode()
    secret = mail_stack.clients["relay-app"]
    inputs = {"provider": "oidc", "tenant_id": "", "authority": mail_stack.issuer, "client_id": "relay-app",
              "client_secret": secret, "encryption_key": key}
    env, args = inject(types[SECRET_TYPE], inputs, str(tmp_path / "job"))
    token = str(tmp_path / "alice.token")
    tasks = """
    - name: App-only token from the lookup, options from the credential's variables
      ansible.builtin.set_fact:
        looked_up: "{{ lookup('xoauth2.mail.oauth_token', scopes=['mail.send'], username='%(alice)s',
                              ca_path='%(ca)s', cache_dir='%(cache)s') }}"
      no_log: true
    - name: The lookup gave a token
      ansible.builtin.assert:
        that: looked_up | length > 20
    - name: Token file on the host, options from module_defaults
      xoauth2.mail.oauth_mail_token:
        path: %(token)s
        username: %(alice)s
        scopes: [mail.send]
      register: made
    - name: The module acquired it
      ansible.builtin.assert:
        that: made is changed and made.action == 'acquired'
    - name: It logs in to IMAP
      xoauth2.mail.oauth_mail_check:
        protocol: imap
        host: 127.0.0.1
        port: %(imaps)s
        security: tls
        username: %(alice)s
        token_file: %(token)s
      register: checked
    - name: Dovecot took it
      ansible.builtin.assert:
        that: checked.authenticated
    - name: The lookup reads the token file with the credential's key
      ansible.builtin.assert:
        that: >-
          (lookup('xoauth2.mail.oauth_token', '%(token)s', output='xoauth2', ca_path='%(ca)s') | b64decode)
          .startswith('user=%(alice)s')
""" % dict(alice=ALICE, ca=mail_stack.ca_file, cache=tmp_path / "cache", token=token, imaps=mail_stack.imaps_port)
    rc, out = run_playbook(tmp_path, _playbook_with(tmp_path, mail_stack, tasks), *args, env=env)
    assert rc == 0, out
    assert "failed=0" in out and secret not in out and key not in out


def _certificate_pem() -> str:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "xoauth2-mail-test-app")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(private.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now)
                   .not_valid_after(now + datetime.timedelta(days=1)).sign(private, hashes.SHA256()))
    key_pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    return (key_pem + certificate.public_bytes(serialization.Encoding.PEM)).decode()


def test_certificate_type_hands_the_certificate_file_to_the_lookup(types, stack, idp, tmp_path):
    pem = _certificate_pem()
    inputs = {"tenant_id": "", "authority": stack.issuer, "client_id": "relay-app", "client_certificate": pem,
              "encryption_key": base64.b64encode(os.urandom(32)).decode()}
    env, args = inject(types[CERTIFICATE_TYPE], inputs, str(tmp_path / "job"))
    extra = open(args[1][1:]).read()
    path = extra.split("xoauth2_mail_client_certificate: !unsafe '", 1)[1].split("'", 1)[0]
    assert open(path).read() == pem and os.stat(path).st_mode & 0o777 == 0o660
    tasks = """
    - name: Token by client credentials with the certificate (the test IdP does not take certificates)
      ansible.builtin.debug:
        msg: "{{ lookup('xoauth2.mail.oauth_token', scopes=['mail.send'], ca_path='%s', cache_dir='%s') | length }}"
""" % (stack.ca_file, tmp_path / "cache")
    rc, out = run_playbook(tmp_path, _playbook_with(tmp_path, stack, tasks), *args, env=env)
    # The request reached the identity provider with the certificate: the lookup had a client credential.
    assert rc != 0 and "Give a token file as term" not in out, out
    assert "oauth_token failed (error_category=" in out and "BEGIN PRIVATE KEY" not in out
    assert idp.counters()["token"] >= 1, out
