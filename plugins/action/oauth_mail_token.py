# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Action plugin of ``oauth_mail_token``: drives a person's sign-in from the controller.

Without ``flow: device_code`` or ``flow: auth_code`` it only runs the module.

With ``device_code``, the module runs in steps on the managed host: ``start``
(keeps or refreshes a usable token, or starts a sign-in and returns the user
code), then ``poll`` until the sign-in ends. Between the steps this plugin
shows the verification URL and the user code on the controller, at once.

With ``auth_code`` (a browser sign-in), this plugin first opens the loopback
listener (or picks the paste mode's redirect address), the module's ``start``
step makes the authorization URL and keeps the PKCE verifier on the managed
host, this plugin shows the URL and waits for the redirected answer, checks
its ``state``, and the ``finish`` step redeems the code there (``abort``
drops the pending sign-in when the answer is refused here).

In both, the tokens are made and stay on the managed host.
"""

from __future__ import annotations

from ansible.plugins.action import ActionBase

from ansible_collections.xoauth2.mail.plugins.module_utils._errors import OAuthMailError
from ansible_collections.xoauth2.mail.plugins.plugin_utils._browser_signin import BrowserSignIn
from ansible_collections.xoauth2.mail.plugins.plugin_utils._device_prompt import DevicePrompt

# A poll step waits at most about a minute; this bounds the number of steps even if the module misbehaves.
MAX_POLL_STEPS = 10000
# Options only this plugin sets.
INTERNAL_OPTIONS = ("device_code_step", "auth_code_step", "auth_code_response")
INTERACTIVE_FLOWS = ("device_code", "auth_code")
DEFAULT_REDIRECT_URI = "http://127.0.0.1/"


class ActionModule(ActionBase):

    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        args = dict(self._task.args)
        for name in INTERNAL_OPTIONS:
            args.pop(name, None)
        if args.get("flow") not in INTERACTIVE_FLOWS or args.get("state") == "absent" or self._play_context.check_mode:
            result.update(self._execute_module(module_args=args, task_vars=task_vars))
            return result
        if args["flow"] == "auth_code":
            result.update(self._auth_code(args, task_vars))
            return result

        step = self._execute_module(module_args=dict(args, device_code_step="start"), task_vars=task_vars)
        if step.get("failed") or not step.get("device_pending"):
            result.update(step)
            return result

        prompt = DevicePrompt(self._task.get_name(), task_vars.get("inventory_hostname"), args.get("path"))
        prompt.show(step["device_authorization"])
        for dummy in range(MAX_POLL_STEPS):
            step = self._execute_module(module_args=dict(args, device_code_step="poll"), task_vars=task_vars)
            if step.get("failed") or not step.get("device_pending"):
                break
            prompt.waiting(step["device_authorization"])
        prompt.finished(step)
        # A sign-in happened (or was attempted): report the final step, which saved the token.
        step["changed"] = bool(step.get("changed")) or not step.get("failed")
        step.pop("device_pending", None)
        result.update(step)
        return result

    def _auth_code(self, args, task_vars):
        signin = BrowserSignIn(self._task.get_name(), task_vars.get("inventory_hostname"), args.get("path"),
                               args.get("auth_code_mode") or "listener")
        try:
            redirect_uri = signin.redirect_uri(args.get("auth_code_redirect_uri") or DEFAULT_REDIRECT_URI)
        except OAuthMailError as error:
            return dict(error.to_dict(), failed=True, msg=str(error))
        args = dict(args, auth_code_redirect_uri=redirect_uri)
        try:
            step = self._execute_module(module_args=dict(args, auth_code_step="start"), task_vars=task_vars)
            if step.get("failed") or not step.get("signin_pending"):
                return step
            signin.show(step["signin"])
            try:
                answer = signin.answer(step["signin"])
            except OAuthMailError as error:
                # Refused here (timeout, denied, wrong state): the pending sign-in on the host is dropped.
                self._execute_module(module_args=dict(args, auth_code_step="abort"), task_vars=task_vars)
                step = dict(error.to_dict(), failed=True, msg=str(error), path=step.get("path"))
            else:
                step = self._execute_module(module_args=dict(args, auth_code_step="finish", auth_code_response=answer),
                                            task_vars=task_vars)
        finally:
            signin.close()
        signin.finished(step)
        step["changed"] = bool(step.get("changed")) or not step.get("failed")
        step.pop("signin_pending", None)
        return step
