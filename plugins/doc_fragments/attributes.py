# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    """The attributes the token modules share: membership of the action group in meta/runtime.yml."""

    DOCUMENTATION = r"""
attributes:
  action_group:
    description: Use C(group/xoauth2.mail.oauth) in C(module_defaults) to set the provider, client and key options once.
    support: full
    membership:
      - xoauth2.mail.oauth
"""
