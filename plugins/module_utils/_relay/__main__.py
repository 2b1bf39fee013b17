# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""``python -m ..._relay``: the xoauth2-relay command line.

xoauth2-relay is a local SMTP service that relays to an XOAUTH2 server with our token files
(``python -m <package>._relay serve --config FILE``; docs/relay-helper.md). A private package:
stdlib and the shared core only. Its ``__init__.py`` stays empty (ansible-test 2.16's empty-init).
"""

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
