# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The guides of docs/ in the docs site (scripts/docsite.sh builds it in `make test`)."""
from __future__ import annotations

import glob
import importlib.util
import os

import yaml

from xoauth2_playbook import REPO

DOCSITE = os.path.join(REPO, "docs", "docsite")


def _guides_module():
    spec = importlib.util.spec_from_file_location("docsite_guides", os.path.join(REPO, "scripts", "docsite_guides.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _guides():
    found = glob.glob(os.path.join(REPO, "docs", "*.md")) + glob.glob(os.path.join(REPO, "docs", "plugins", "*.md"))
    return sorted(os.path.relpath(path, os.path.join(REPO, "docs"))[:-3] for path in found)


def test_every_guide_has_a_stand_in_and_a_place_in_the_toctree():
    with open(os.path.join(DOCSITE, "extra-docs.yml")) as handle:
        sections = yaml.safe_load(handle)["sections"]
    refs = sorted(entry["ref"] if isinstance(entry, dict) else entry
                  for section in sections for entry in section["toctree"])
    stand_ins = sorted(os.path.relpath(path, os.path.join(DOCSITE, "rst"))[:-4]
                       for path in glob.glob(os.path.join(DOCSITE, "rst", "**", "*.rst"), recursive=True))
    assert _guides() == stand_ins == refs


def test_guides_replace_their_stand_ins_and_outside_links_go_to_the_repository(tmp_path):
    docs = tmp_path / "docs"
    (docs / "plugins").mkdir(parents=True)
    (docs / "a.md").write_text("# A\n[b](plugins/b.md#x) [role](../roles/r/README.md) [ee](examples/ee.yml) "
                               "[web](https://example.com/a.md) [here](#a)\n")
    (docs / "plugins" / "b.md").write_text("# B\n[a](../a.md)\n")
    site = tmp_path / "site"
    (site / "plugins").mkdir(parents=True)
    (site / "a.rst").write_text("stand-in")
    (site / "plugins" / "b.rst").write_text("stand-in")
    _guides_module().copy_guides(str(docs), str(site), "https://github.com/xoauth2/mail")
    assert not (site / "a.rst").exists() and not (site / "plugins" / "b.rst").exists()
    assert (site / "a.md").read_text() == (
        "# A\n[b](plugins/b.md#x) [role](https://github.com/xoauth2/mail/blob/main/roles/r/README.md) "
        "[ee](https://github.com/xoauth2/mail/blob/main/docs/examples/ee.yml) [web](https://example.com/a.md) "
        "[here](#a)\n")
    assert (site / "plugins" / "b.md").read_text() == "# B\n[a](../a.md)\n"
