# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""xoauth2-relay: a local SMTP service that relays to an XOAUTH2 server with our token files.

Private package (stdlib and the shared core only); see docs/relay-helper.md.
Run it with ``python -m <package>._relay serve --config FILE``.
"""
