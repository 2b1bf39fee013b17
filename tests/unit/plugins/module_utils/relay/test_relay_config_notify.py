# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The relay's ``notify`` section: defaults, errors naming the key, no secret in errors or repr."""
from __future__ import annotations

import pytest

from ansible_collections.xoauth2.mail.plugins.module_utils._relay.config import ConfigError
from ansible_collections.xoauth2.mail.plugins.module_utils._relay.tokens import make_session

from relay_unit_support import config


def test_no_notify_section_means_no_notices(tmp_path):
    cfg = config(tmp_path)
    assert cfg.notify is None
    assert make_session(cfg.accounts[0], 10, 0, cfg.notify).notifier is None


def test_notify_section_gives_each_account_a_notifier(tmp_path):
    cfg = config(tmp_path, {"notify": {"command": "/bin/true", "webhook_url": "https://eda.example.test:5443/x",
                                       "webhook_token": "t0ken-s3cret", "retry_interval": 5,
                                       "fix": "Run the job template for {account}"}})
    assert cfg.notify.command == ["/bin/true"] and cfg.notify.timeout == 10 and cfg.notify.retry_interval == 5
    assert "t0ken-s3cret" not in repr(cfg) and "eda.example.test" not in repr(cfg)
    notifier = make_session(cfg.accounts[0], 10, 0, cfg.notify).notifier
    assert notifier.channels == ("command", "webhook")
    assert notifier.context["account"] == "alice" and notifier.context["username"] == "alice@example.test"


@pytest.mark.parametrize("notify, key", [
    ({"command": ["bin/true"]}, "notify.command"),
    ({"command": [1]}, "notify.command"),
    ({"webhook_url": "http://eda.example.test/x?token=s3cret"}, "notify.webhook_url"),
    ({"webhook_url": "https://eda.example.test/x", "timeout": 0}, "notify.timeout"),
    ({"webhook_url": "https://eda.example.test/x", "retry_interval": "soon"}, "notify.retry_interval"),
    ({"webhook_url": "https://eda.example.test/x", "webhook_ca_file": "/nonexistent.pem"}, "notify.webhook_ca_file"),
    ({"webhook": "https://eda.example.test/x"}, "notify.webhook"),
])
def test_errors_name_the_key(tmp_path, notify, key):
    with pytest.raises(ConfigError) as error:
        config(tmp_path, {"notify": notify})
    assert error.value.key == key
    assert "s3cret" not in str(error.value)
