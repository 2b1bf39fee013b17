# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Action plugin of ``oauth_mail_token``: drives a device code sign-in from the controller.

Without ``flow: device_code`` it only runs the module. With it, the module runs
in steps on the managed host: ``start`` (keeps or refreshes a usable token, or
starts a sign-in and returns the user code), then ``poll`` until the sign-in
ends. Between the steps this plugin shows the verification URL and the user
code on the controller, at once. The device code and the tokens stay on the
managed host.
"""

from __future__ import annotations

from ansible.plugins.action import ActionBase

from ansible_collections.xoauth2.mail.plugins.plugin_utils._device_prompt import DevicePrompt

# A poll step waits at most about a minute; this bounds the number of steps even if the module misbehaves.
MAX_POLL_STEPS = 10000


class ActionModule(ActionBase):

    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        args = dict(self._task.args)
        args.pop("device_code_step", None)  # internal: only this plugin sets it
        if args.get("flow") != "device_code" or args.get("state") == "absent" or self._play_context.check_mode:
            result.update(self._execute_module(module_args=args, task_vars=task_vars))
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
