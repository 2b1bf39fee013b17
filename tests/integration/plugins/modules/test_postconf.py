# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""xoauth2.mail.postconf against a private Postfix configuration folder in a tmp dir.

Only the configuration is needed (postconf and `postfix check`); no Postfix is started.
"""
from __future__ import annotations

import os
import subprocess

import pytest

from postfix_instance import DIST, POSTCONF, make_instance

pytestmark = [
    pytest.mark.skipif(POSTCONF is None or not os.path.isfile(os.path.join(DIST, "main.cf.dist")),
                       reason="needs Debian's postfix package (tests/stack/install.sh)"),
    pytest.mark.skipif(os.geteuid() != 0, reason="postfix check needs root"),
]


def postconf(config_dir, *args):
    proc = subprocess.run([POSTCONF, "-c", config_dir] + list(args), capture_output=True, text=True, check=True)
    return proc.stdout.strip()


@pytest.fixture
def instance(tmp_path):
    """A Postfix configuration folder of its own, as the postfix_relay role makes one."""
    return make_instance(tmp_path / "pf", "postconf-test")


def main_cf(config_dir):
    with open(os.path.join(config_dir, "main.cf"), "rb") as handle:
        return handle.read()


def master_cf(config_dir):
    with open(os.path.join(config_dir, "master.cf"), "rb") as handle:
        return handle.read()


RELAY = {
    "relayhost": "[127.0.0.1]:10587",
    "smtp_sasl_auth_enable": True,
    "mynetworks": ["127.0.0.0/8", "[::1]/128"],
    "message_size_limit": 20480000,
    "smtp_sasl_security_options": "noanonymous",
}


def test_sets_values_the_postfix_way_and_is_idempotent(run_module, instance):
    first = run_module("postconf", {"config_dir": instance, "settings": RELAY})
    assert first.get("failed") is not True, first
    assert first["changed"] is True
    assert first["changed_settings"] == sorted(RELAY)
    assert postconf(instance, "-h", "relayhost") == "[127.0.0.1]:10587"
    assert postconf(instance, "-h", "smtp_sasl_auth_enable") == "yes"
    assert postconf(instance, "-h", "mynetworks") == "127.0.0.0/8, [::1]/128"
    assert postconf(instance, "-h", "message_size_limit") == "20480000"

    second = run_module("postconf", {"config_dir": instance, "settings": RELAY})
    assert second["changed"] is False, second
    assert second["changed_settings"] == []
    assert "diff" not in second


def test_only_changed_names_are_reported_and_comments_stay(run_module, instance):
    run_module("postconf", {"config_dir": instance, "settings": RELAY})
    result = run_module("postconf", {"config_dir": instance, "settings": dict(RELAY, relayhost="[127.0.0.1]:2525")})
    assert result["changed"] is True
    assert result["changed_settings"] == ["relayhost"]
    assert b"# Global Postfix configuration file" in main_cf(instance)


def test_check_mode_writes_nothing(run_module, instance):
    before = main_cf(instance)
    result = run_module("postconf", {"config_dir": instance, "settings": RELAY}, check=True)
    assert result["changed"] is True
    assert result["changed_settings"] == sorted(RELAY)
    assert main_cf(instance) == before
    assert postconf(instance, "-h", "relayhost") == ""


def test_diff_shows_changed_names_before_and_after(run_module, instance):
    run_module("postconf", {"config_dir": instance, "settings": {"relayhost": "[old.example]:25"}})
    result = run_module("postconf", {"config_dir": instance,
                                     "settings": {"relayhost": "[127.0.0.1]:10587", "mynetworks": "127.0.0.0/8"}})
    diff = result["diff"]
    assert diff["before"] == "relayhost = [old.example]:25\n"
    assert diff["after"] == "relayhost = [127.0.0.1]:10587\n"
    assert diff["before_header"] == os.path.join(instance, "main.cf")
    assert result["changed_settings"] == ["relayhost"]  # mynetworks already held 127.0.0.0/8
    no_diff = run_module("postconf", {"config_dir": instance, "settings": {"relayhost": "x"}}, diff=False)
    assert no_diff["changed"] is True and "diff" not in no_diff


def test_bad_value_is_restored_and_reported(run_module, instance):
    run_module("postconf", {"config_dir": instance, "settings": {"message_size_limit": 1000}})
    before = main_cf(instance)
    result = run_module("postconf", {"config_dir": instance,
                                     "settings": {"message_size_limit": "abc", "relayhost": "[127.0.0.1]:10587"}})
    assert result["failed"] is True
    assert "message_size_limit" in result["msg"]
    assert "bad numerical configuration" in result["msg"], result["msg"]
    assert "restored" in result["msg"]
    assert "bad numerical configuration" in result["validation"]
    assert result["changed"] is False
    assert main_cf(instance) == before
    assert postconf(instance, "-h", "message_size_limit") == "1000"
    assert postconf(instance, "-h", "relayhost") == ""


def test_bad_value_stays_without_validation(run_module, instance):
    result = run_module("postconf", {"config_dir": instance, "settings": {"message_size_limit": "abc"},
                                     "validate": False})
    assert result["changed"] is True
    assert postconf(instance, "-h", "message_size_limit") == "abc"


def test_absent_removes_and_null_removes(run_module, instance):
    run_module("postconf", {"config_dir": instance, "settings": RELAY})
    result = run_module("postconf", {"config_dir": instance, "state": "absent",
                                     "settings": {"relayhost": None, "smtp_sasl_auth_enable": "ignored",
                                                  "never_set_here": None}})
    assert result["changed"] is True
    assert result["changed_settings"] == ["relayhost", "smtp_sasl_auth_enable"]
    assert result["diff"]["after"] == ""
    explicit = postconf(instance, "-n")
    assert "relayhost" not in explicit and "smtp_sasl_auth_enable" not in explicit
    again = run_module("postconf", {"config_dir": instance, "state": "absent", "settings": {"relayhost": None}})
    assert again["changed"] is False

    null = run_module("postconf", {"config_dir": instance, "settings": {"mynetworks": None}})
    assert null["changed"] is True and null["changed_settings"] == ["mynetworks"]
    assert "mynetworks =" not in postconf(instance, "-n")


def test_absent_in_check_mode_keeps_the_file(run_module, instance):
    run_module("postconf", {"config_dir": instance, "settings": RELAY})
    before = main_cf(instance)
    result = run_module("postconf", {"config_dir": instance, "state": "absent", "settings": {"relayhost": None}},
                        check=True)
    assert result["changed"] is True
    assert main_cf(instance) == before


def test_user_defined_parameter_is_idempotent_with_a_warning(run_module, instance):
    first = run_module("postconf", {"config_dir": instance, "settings": {"relay_custom_restrictions": "permit"}})
    assert first["changed"] is True
    assert "not a Postfix parameter" in str(first.get("warnings"))
    second = run_module("postconf", {"config_dir": instance, "settings": {"relay_custom_restrictions": "permit"}})
    assert second["changed"] is False, second


def test_master_entries_fields_and_whole_entries(run_module, instance):
    args = {"config_dir": instance, "master_entries": {
        "*/*/chroot": False,
        "smtp/inet": None,
        "10025/inet": "10025  inet n - n - - smtpd",
    }}
    first = run_module("postconf", args)
    assert first.get("failed") is not True, first
    assert first["changed_master_entries"] == ["*/*/chroot", "10025/inet", "smtp/inet"]
    assert set(postconf(instance, "-Fh", "*/*/chroot").split()) == {"n"}
    assert postconf(instance, "-M", "10025/inet").split() == "10025 inet n - n - - smtpd".split()
    assert postconf(instance, "-M", "smtp/inet") == ""
    second = run_module("postconf", args)
    assert second["changed"] is False, second


def test_master_entries_check_mode(run_module, instance):
    before = master_cf(instance)
    result = run_module("postconf", {"config_dir": instance, "master_entries": {"smtp/unix/chroot": "n"}}, check=True)
    assert result["changed"] is True
    assert result["diff"]["before"] == "smtp/unix/chroot = y\n"
    assert master_cf(instance) == before


@pytest.mark.parametrize("args, fragment", [
    ({"settings": {"relayhost": {"a": 1}}}, "settings.relayhost: a value must be"),
    ({"settings": {"bad name": "x"}}, "settings.bad name: not a valid parameter name"),
    ({"settings": {"myhostname": "a\nb"}}, "settings.myhostname: the value must be on one line"),
    ({"master_entries": {"nosuch/unix/chroot": "n"}}, "master_entries: 'nosuch/unix/chroot' matches no entry"),
    ({"master_entries": {"smtp/unix/colour": "n"}}, "master_entries['smtp/unix/colour']: the field must be"),
    ({"master_entries": {"smtp": "x"}}, "master_entries['smtp']: a key is"),
    ({"master_entries": {"2525/inet": "smtp inet n - n - - smtpd"}}, "starting with 2525 inet"),
    ({"state": "absent", "master_entries": {"smtp/inet": None}}, "master_entries: only with state=present"),
])
def test_errors_name_the_option(run_module, instance, args, fragment):
    before = main_cf(instance), master_cf(instance)
    result = run_module("postconf", dict(args, config_dir=instance))
    assert result["failed"] is True
    assert fragment in result["msg"], result["msg"]
    assert (main_cf(instance), master_cf(instance)) == before


def test_missing_main_cf_names_config_dir(run_module, tmp_path):
    result = run_module("postconf", {"config_dir": str(tmp_path), "settings": {"relayhost": ""}})
    assert result["failed"] is True
    assert result["msg"].startswith("config_dir: ")
    assert not (tmp_path / "main.cf").exists()


def test_master_cf_overrides_are_not_main_cf_values(run_module, instance):
    # "-o name=value" in master.cf also makes postconf warn "unused parameter": only main.cf's count
    subprocess.run([POSTCONF, "-c", instance, "-M", "10030/inet=10030 inet n - n - - smtpd -o relay_custom=b"],
                   check=True)
    first = run_module("postconf", {"config_dir": instance, "settings": {"relay_custom": "b"}})
    assert first["changed"] is True, first
    assert run_module("postconf", {"config_dir": instance, "settings": {"relay_custom": "b"}})["changed"] is False
