# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the docs say about blank credentials and modes is what the code does."""
from __future__ import annotations

import os

import pytest
import yaml

from ansible_collections.xoauth2.mail.plugins.doc_fragments.token import ModuleDocFragment
from ansible_collections.xoauth2.mail.plugins.module_utils import _options
from ansible_collections.xoauth2.mail.plugins.module_utils._errors import ConfigurationError

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))


def troubleshooting():
    with open(os.path.join(REPO, "docs", "troubleshooting.md"), encoding="utf-8") as handle:
        return handle.read()


@pytest.mark.parametrize("name", _options.BLANK_IS_ERROR)
def test_a_blank_credential_is_refused_naming_it(name):
    with pytest.raises(ConfigurationError) as caught:
        _options.settings_from_options(lambda option: "  " if option == name else None)
    assert caught.value.option == name and str(caught.value).startswith("%s is empty" % name)


def test_the_docs_say_a_blank_client_secret_is_refused_not_ignored():
    doc = " ".join(yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"]["client_secret"]["description"])
    assert "not given" not in doc.replace("taken as", "") and "refused" in doc and "naming this option" in doc
    text = troubleshooting()
    assert "counts as not given" not in text
    assert "`client_secret is empty; give its value or leave the option out.`" in text


def test_the_troubleshooting_page_quotes_the_mode_error_as_the_module_words_it():
    text = troubleshooting()
    assert "mode must be an octal string" not in text
    assert "is neither octal (such as '0600') nor symbolic (such as 'u=rw,g=r')." in text
