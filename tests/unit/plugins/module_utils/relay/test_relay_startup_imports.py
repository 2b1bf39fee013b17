# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The relay's resident memory: loading its code and configuration imports no library it needs only later
(requests when it renews a token, urllib.request when it sends a notice)."""
from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import textwrap

PROGRAM = textwrap.dedent("""
    import json, sys
    sys.path[:0] = [p for p in sys.argv[2].split(':') if p]
    from ansible_collections.xoauth2.mail.plugins.module_utils._relay import app  # noqa: F401
    from ansible_collections.xoauth2.mail.plugins.module_utils._relay.config import load_config
    load_config(sys.argv[1])
    print(json.dumps(sorted(name for name in ("requests", "urllib.request", "msal") if name in sys.modules)))
""")


def test_loading_the_relay_imports_no_renewal_or_notice_library(tmp_path):
    key_file = tmp_path / "token.key"
    key_file.write_text(base64.b64encode(os.urandom(32)).decode())
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"accounts": [{
        "name": "alice", "token_file": str(tmp_path / "alice.token"), "key_file": str(key_file),
        "local_secret": "s3cret", "upstream": {"host": "smtp.example.test"},
        "username": "alice@example.test"}], "notify": {"command": ["/bin/true"]}}))
    proc = subprocess.run([sys.executable, "-c", PROGRAM, str(path), os.pathsep.join(sys.path)],
                          capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == []
