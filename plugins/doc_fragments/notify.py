# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    """Notices when a token's state changes (needs_reauth, error, recovered)."""

    DOCUMENTATION = r"""
options:
  notify_command:
    description:
      - A program to run on the managed host when the token's state changes, that is when it enters C(needs_reauth) (a
        person must sign in again) or C(error), and when it recovers to C(valid). The program (an absolute path)
        first, then its arguments; it runs without a shell, with no input.
      - Its environment holds only C(PATH), C(LANG), C(LC_ALL), C(TZ), C(HOME) and the notice (never a token or
        secret) C(XOAUTH2_ACCOUNT), C(XOAUTH2_USERNAME), C(XOAUTH2_TOKEN_FILE), C(XOAUTH2_STATE),
        C(XOAUTH2_PREVIOUS_STATE), C(XOAUTH2_KIND) (C(reauth_required), C(error) or C(recovered)), C(XOAUTH2_CATEGORY),
        C(XOAUTH2_CODE), C(XOAUTH2_MESSAGE), C(XOAUTH2_HINT) (one line), C(XOAUTH2_FIX) (the step that fixes it),
        C(XOAUTH2_HOST), C(XOAUTH2_SINCE), C(XOAUTH2_ATTEMPT), C(XOAUTH2_EVENT), and all of it as JSON in
        C(XOAUTH2_NOTICE_JSON).
      - It must end within O(notify_timeout) seconds (else it is stopped, with what it started) and exit 0; anything
        else counts as not delivered and is retried. A failed notice is a warning, never a failed task.
      - See U(https://github.com/xoauth2/mail/blob/main/docs/notifications.md) for when notices are sent and retried.
    type: list
    elements: str
  notify_webhook_url:
    description:
      - An C(https://) URL to POST the notice to as JSON (the same fields as the command's environment, in lower
        case without the C(XOAUTH2_) prefix), for example an Event-Driven Ansible C(ansible.eda.webhook) source.
      - The server's certificate is always verified (see O(notify_webhook_ca_path)); redirects are not followed; only
        a 2xx answer counts as delivered. The URL is treated as a secret and never shown, only its host.
    type: str
  notify_webhook_token:
    description:
      - Sent as the C(Authorization) header C(Bearer <token>) with the webhook (the C(token) of an C(ansible.eda.webhook) source).
    type: str
  notify_webhook_ca_path:
    description:
      - A CA certificate file (PEM) that signs the webhook server's certificate, instead of the system's trust
        store.
    type: path
  notify_timeout:
    description:
      - Seconds the command may run, and the bound of each network step of the webhook (1 to 3600).
    type: int
    default: 10
  notify_fix:
    description:
      - The fix a C(needs_reauth) notice tells the reader, instead of the default (re-run this task, with the
        device-code or browser sign-in). For example the job template or playbook that signs the account in again.
        C({account}) is replaced by the account's name.
    type: str
  notify_account:
    description:
      - The account's name in notices. Default, the token file's name.
    type: str
"""
