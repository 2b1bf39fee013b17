# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The IMAP login check sends the XOAUTH2 string that _xoauth2 builds, the one builder of the collection."""
from __future__ import annotations

import base64

from ansible_collections.xoauth2.mail.plugins.module_utils import _mail_login
from ansible_collections.xoauth2.mail.plugins.module_utils._xoauth2 import xoauth2_initial_response

TOKEN = "secret-access-token-value"


def test_imap_answer_comes_from_the_xoauth2_builder(monkeypatch):
    monkeypatch.setattr(_mail_login, "xoauth2_initial_response",
                        lambda username, token: base64.b64encode(b"built by _xoauth2").decode())
    answer = _mail_login._Xoauth2Answer("a@b", TOKEN)
    assert answer(b"") == b"built by _xoauth2"


def test_imap_answer_is_the_raw_sasl_string_then_an_empty_line():
    answer = _mail_login._Xoauth2Answer("a@b", TOKEN)
    # imaplib base64-encodes the answer itself
    assert base64.b64encode(answer(b"")).decode() == xoauth2_initial_response("a@b", TOKEN)
    assert answer(b'{"status":"401"}') == b""
    assert answer.challenges == [b'{"status":"401"}']
