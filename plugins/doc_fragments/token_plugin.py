# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    """Where controller-side plugins (the lookup) may also read the shared token options from.

    Used together with ``xoauth2.mail.token``: Ansible merges the option entries,
    so this fragment only adds the ``env``/``ini``/``vars`` sources.
    """

    DOCUMENTATION = r"""
options:
  provider:
    vars:
      - name: xoauth2_mail_provider
  tenant_id:
    vars:
      - name: xoauth2_mail_tenant_id
  authority:
    env:
      - name: XOAUTH2_MAIL_AUTHORITY
    vars:
      - name: xoauth2_mail_authority
  client_id:
    vars:
      - name: xoauth2_mail_client_id
  client_secret:
    vars:
      - name: xoauth2_mail_client_secret
  client_certificate:
    vars:
      - name: xoauth2_mail_client_certificate
  encryption_key:
    env:
      - name: XOAUTH2_MAIL_ENCRYPTION_KEY
    vars:
      - name: xoauth2_mail_encryption_key
  encryption_key_file:
    env:
      - name: XOAUTH2_MAIL_ENCRYPTION_KEY_FILE
    ini:
      - section: xoauth2_mail
        key: encryption_key_file
    vars:
      - name: xoauth2_mail_encryption_key_file
  previous_encryption_keys:
    vars:
      - name: xoauth2_mail_previous_encryption_keys
  min_validity:
    env:
      - name: XOAUTH2_MAIL_MIN_VALIDITY
    ini:
      - section: xoauth2_mail
        key: min_validity
    vars:
      - name: xoauth2_mail_min_validity
  validate_certs:
    env:
      - name: XOAUTH2_MAIL_VALIDATE_CERTS
    ini:
      - section: xoauth2_mail
        key: validate_certs
    vars:
      - name: xoauth2_mail_validate_certs
  ca_path:
    env:
      - name: XOAUTH2_MAIL_CA_PATH
    ini:
      - section: xoauth2_mail
        key: ca_path
    vars:
      - name: xoauth2_mail_ca_path
  timeout:
    env:
      - name: XOAUTH2_MAIL_TIMEOUT
    ini:
      - section: xoauth2_mail
        key: timeout
    vars:
      - name: xoauth2_mail_timeout
  retries:
    env:
      - name: XOAUTH2_MAIL_RETRIES
    ini:
      - section: xoauth2_mail
        key: retries
    vars:
      - name: xoauth2_mail_retries
"""
