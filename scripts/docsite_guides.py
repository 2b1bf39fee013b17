# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Put the Markdown guides of docs/ into the docs site in place of their RST stand-ins.

    python scripts/docsite_guides.py DOCS_DIR DOCSITE_DIR REPOSITORY_URL

DOCSITE_DIR is where antsibull-docs wrote docs/docsite/rst/ (collections/xoauth2/mail/docsite).
docs/docsite/rst/<name>.rst is a stand-in that antsibull-docs can lint; <name>.md takes its
place, so the page keeps its name and the toctree of docs/docsite/extra-docs.yml finds it.
A link between guides stays as it is (MyST resolves it to the guide's page); a link to
anything else in the repository (a role's README, an example file) would not exist in the
site, so it becomes a link to the file on the repository's web page.
"""
from __future__ import annotations

import os
import posixpath
import re
import sys

LINK = re.compile(r"(\]\()([^)\s]+)(\))")


def _rewrite(target: str, guide_dir: str, docs_dir: str, repository: str) -> str:
    if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
        return target
    path, anchor = (target.split("#", 1) + [""])[:2]
    resolved = posixpath.normpath(posixpath.join(guide_dir, path))
    inside = not resolved.startswith("../")
    if inside and resolved.endswith(".md") and os.path.isfile(os.path.join(docs_dir, resolved)):
        return target
    web = "%s/blob/main/%s" % (repository.rstrip("/"), posixpath.normpath(posixpath.join("docs", resolved)))
    return web + ("#" + anchor if anchor else "")


def copy_guides(docs_dir: str, target_dir: str, repository: str) -> list:
    written = []
    for folder, dirs, files in os.walk(docs_dir):
        dirs[:] = [d for d in dirs if d not in ("docsite", "examples")]
        for name in sorted(files):
            if not name.endswith(".md"):
                continue
            source = os.path.join(folder, name)
            relative = os.path.relpath(source, docs_dir).replace(os.sep, "/")
            guide_dir = posixpath.dirname(relative)
            with open(source, encoding="utf-8") as handle:
                text = handle.read()
            text = LINK.sub(lambda m, here=guide_dir: m.group(1) + _rewrite(m.group(2), here, docs_dir, repository)
                            + m.group(3), text)
            destination = os.path.join(target_dir, relative)
            stand_in = destination[:-len(".md")] + ".rst"
            if not os.path.isfile(stand_in):
                raise SystemExit("docs/%s has no stand-in docs/docsite/rst/%s.rst (and no place in "
                                 "docs/docsite/extra-docs.yml)" % (relative, relative[:-len(".md")]))
            os.remove(stand_in)
            with open(destination, "w", encoding="utf-8") as handle:
                handle.write(text)
            written.append(relative)
    return written


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit("usage: docsite_guides.py DOCS_DIR DOCSITE_DIR REPOSITORY_URL")
    copy_guides(*sys.argv[1:])
