# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The Event-Driven Ansible example rulebook: YAML, the documented rulebook shape, and fields our notices carry.

No EDA server runs here, so the rulebook is checked statically against the shape ansible-rulebook documents
(rulesets with name, hosts, sources, rules; a rule with name, condition and action; the ansible.eda.webhook
source's arguments; run_job_template's arguments) and against the rulebook JSON schema ansible-lint ships.
"""
from __future__ import annotations

import json
import os
import re

import pytest
import yaml

from ansible_collections.xoauth2.mail.plugins.module_utils._notify import NoticeSettings, build_notice

RULEBOOK = os.path.join(os.path.dirname(__file__), "..", "..", "..", "extensions", "eda", "rulebooks", "reauth.yml")
RULESET_KEYS = {"name", "hosts", "sources", "rules", "vars", "gather_facts", "default_events_ttl",
                "execution_strategy", "match_multiple_rules"}
RULE_KEYS = {"name", "condition", "action", "actions", "enabled", "throttle"}
WEBHOOK_ARGS = {"host", "port", "token", "certfile", "keyfile", "password", "hmac_secret", "hmac_algo",
                "hmac_header", "hmac_format"}
ACTIONS = {"run_playbook", "run_module", "run_job_template", "run_workflow_template", "set_fact", "post_event",
           "retract_fact", "print_event", "shutdown", "debug", "none"}
JOB_TEMPLATE_ARGS = {"name", "organization", "job_args", "post_events", "set_facts", "ruleset", "var_root",
                     "retry", "retries", "delay", "include_events", "labels"}


def _load():
    with open(RULEBOOK) as handle:
        return yaml.safe_load(handle)


def _notice_fields():
    notice = build_notice({}, {"state": "needs_reauth", "previous_state": "valid"},
                          {"token_file": "/t/a.token", "account": "a"}, NoticeSettings())
    return set(notice)


def test_rulebook_has_the_documented_shape():
    rulesets = _load()
    assert isinstance(rulesets, list) and rulesets
    for ruleset in rulesets:
        assert set(ruleset) <= RULESET_KEYS and {"name", "hosts", "sources", "rules"} <= set(ruleset)
        for source in ruleset["sources"]:
            plugins = [key for key in source if key != "name"]
            assert plugins == ["ansible.eda.webhook"]
            assert set(source["ansible.eda.webhook"]) <= WEBHOOK_ARGS
            # our notices come over verified TLS with a bearer token
            assert {"token", "certfile", "keyfile", "port"} <= set(source["ansible.eda.webhook"])
        for rule in ruleset["rules"]:
            assert set(rule) <= RULE_KEYS and {"name", "condition", "action"} <= set(rule)
            assert isinstance(rule["condition"], str)
            (action, args), = rule["action"].items()
            assert action in ACTIONS
            if action == "run_job_template":
                assert set(args) <= JOB_TEMPLATE_ARGS and {"name", "organization"} <= set(args)
                assert set(args["job_args"]) <= {"extra_vars", "limit"}


def test_reauth_rule_starts_the_job_template_for_needs_reauth_notices():
    rules = _load()[0]["rules"]
    reauth = [r for r in rules if "run_job_template" in r["action"]]
    assert len(reauth) == 1
    assert 'event.payload.state == "needs_reauth"' in reauth[0]["condition"]
    assert reauth[0]["throttle"]["group_by_attributes"] == ["event.payload.host", "event.payload.account"]


def test_rulebook_uses_only_fields_and_values_our_notices_carry():
    text = open(RULEBOOK).read()
    fields = set(re.findall(r"event\.payload\.([a-z_]+)", text))
    assert fields and fields <= _notice_fields(), fields - _notice_fields()
    states = set(re.findall(r'event\.payload\.state == "([a-z_]+)"', text))
    assert states == {"needs_reauth", "error", "valid"}
    assert '"xoauth2_mail_token_state"' in text


def _rulebook_schema():
    ansiblelint = pytest.importorskip("ansiblelint")  # requirements-dev.txt pins it
    jsonschema = pytest.importorskip("jsonschema")
    with open(os.path.join(os.path.dirname(ansiblelint.__file__), "schemas", "rulebook.json")) as handle:
        return jsonschema, json.load(handle)


def test_rulebook_validates_against_ansible_lints_rulebook_schema():
    jsonschema, schema = _rulebook_schema()
    jsonschema.validate(_load(), schema)
    broken = _load()
    broken[0]["rules"][0]["action"] = {"run_job_templat": broken[0]["rules"][0]["action"]["run_job_template"]}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)
