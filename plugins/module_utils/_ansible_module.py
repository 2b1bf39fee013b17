# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The Ansible side of the token modules: not part of the core.

The core (every other file here) never imports Ansible, so the relay helper runs without it; this
file is the one that does, and only modules import it. ``OAuthMailModule`` is what
``oauth_mail_token`` and ``oauth_mail_check`` are built on, in the way of community.hashi_vault's
module base: ``generate_argspec`` gives the shared options (``_options.token_argument_spec``,
documented by the ``xoauth2.mail.token`` doc fragment) plus a module's own, and a core error becomes
a failure result in one place.
"""

from __future__ import annotations

import grp
import os
import pwd
import stat
from contextlib import contextmanager

from ansible.module_utils.basic import AnsibleModule, missing_required_lib  # type: ignore[import-untyped]

from ansible_collections.xoauth2.mail.plugins.module_utils._dependencies import MissingDependency, require
from ansible_collections.xoauth2.mail.plugins.module_utils._errors import ConfigurationError, OAuthMailError
from ansible_collections.xoauth2.mail.plugins.module_utils._fresh_token import error_result
from ansible_collections.xoauth2.mail.plugins.module_utils._options import (
    getter_from_dict,
    keys_from_options,
    settings_from_options,
    token_argument_spec,
)

# What a token file gets when the task gives no mode: readable by its owner only.
DEFAULT_MODE = "0600"


class _FileStat:
    """The one field of a stat result that Ansible's symbolic mode parser reads."""

    def __init__(self, mode):
        self.st_mode = mode


class OAuthMailModule(AnsibleModule):
    """An AnsibleModule with the token options and one way to report core errors."""

    @staticmethod
    def generate_argspec(without=(), **own):
        """The shared token options (less ``without``) plus the module's ``own``."""
        return token_argument_spec(without=tuple(without), **own)

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("supports_check_mode", True)
        super().__init__(*args, **kwargs)
        self.option = getter_from_dict(self.params)

    def fail_from(self, error, **fields):
        """Fail with a core error or a missing library: its message and fields, never a traceback."""
        self.fail_json(**dict(error_result(error, missing_required_lib), **fields))

    @contextmanager
    def reporting_core_errors(self, **fields):
        """Turn a core error raised in the block into the task's failure, with ``fields`` added."""
        try:
            yield
        except (MissingDependency, OAuthMailError) as error:
            self.fail_from(error, **fields)

    def token_keys(self):
        """The current key and the previous keys of a rotation, from the key options."""
        require("cryptography")
        return keys_from_options(self.option)

    def token_settings(self):
        return settings_from_options(self.option)

    # -- file arguments (add_file_common_args=True) --------------------------------------------------------

    def creation_mode(self):
        """The permissions new files get: ``mode``, octal or symbolic (applied to 0600), checked before
        anything is written, so a wrong mode never leaves a half-done change."""
        mode = self.params.get("mode")
        if mode is None:
            mode = DEFAULT_MODE
        if not isinstance(mode, int):
            try:
                mode = int(str(mode), 8)
            except ValueError:
                mode = self._symbolic(str(mode))
        if not 0 <= mode <= 0o7777:
            raise ConfigurationError("mode %r is not a file mode (at most 07777)." % (self.params.get("mode"),),
                                     option="mode")
        return mode

    def _symbolic(self, text):
        try:
            return self._symbolic_mode_to_octal(_FileStat(stat.S_IFREG | 0o600), text)
        except ValueError:
            raise ConfigurationError(
                "mode %r is neither octal (such as '0600') nor symbolic (such as 'u=rw,g=r')." % text, option="mode")

    def owner_ids(self):
        """The uid of ``owner`` and the gid of ``group`` (None when not given), for the core's checks."""
        return (self._id_of("owner", lambda name: pwd.getpwnam(name).pw_uid),
                self._id_of("group", lambda name: grp.getgrnam(name).gr_gid))

    def _id_of(self, option, lookup):
        value = self.params.get(option)
        if value is None or value == "":
            return None
        if str(value).isdigit():
            return int(value)
        try:
            return lookup(value)
        except KeyError:
            raise ConfigurationError("%s %r does not exist on the managed host." % (option, value), option=option)

    def file_attributes_setter(self):
        """``set(path) -> changed`` with the task's file arguments (mode, owner, group, SELinux, attributes)."""
        file_args = self.load_file_common_arguments(self.params, path=os.path.abspath(self.params["path"]))
        if file_args.get("mode") is None:
            file_args["mode"] = DEFAULT_MODE

        def set_attributes(path):
            return self.set_fs_attributes_if_different(dict(file_args, path=path), False)
        return set_attributes
