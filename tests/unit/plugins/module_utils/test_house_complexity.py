# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""No function of postconf or the mail login check tangled past what a reader can follow.

Cyclomatic complexity counted as radon's ``cc`` counts it (branches, loops, handlers, boolean
operators, comprehensions; nested functions on their own), with the standard library only.
"""
from __future__ import annotations

import ast
import os

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
LIMIT = 15
FILES = [
    "plugins/modules/postconf.py",
    "plugins/module_utils/_postconf_cli.py",
    "plugins/module_utils/_postconf_plan.py",
    "plugins/module_utils/_mail_login.py",
]
FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)


def _own_nodes(function):
    """The nodes of a function's body, without those of functions or classes defined inside it."""
    stack = list(function.body)
    while stack:
        node = stack.pop()
        yield node
        stack.extend(child for child in ast.iter_child_nodes(node)
                     if not isinstance(child, FUNCTIONS + (ast.ClassDef, ast.Lambda)))


def _weight(node):
    if isinstance(node, ast.Try):
        return len(node.handlers) + bool(node.orelse)
    if isinstance(node, ast.BoolOp):
        return len(node.values) - 1
    if isinstance(node, (ast.If, ast.IfExp)):
        return 1
    if isinstance(node, (ast.For, ast.AsyncFor, ast.While)):
        return 1 + bool(node.orelse)
    if isinstance(node, ast.comprehension):
        return 1 + len(node.ifs)
    return 0


def complexity(function):
    return 1 + sum(_weight(node) for node in _own_nodes(function))


def functions_of(path):
    with open(os.path.join(REPO, path), encoding="utf-8") as handle:
        tree = ast.parse(handle.read())
    return [node for node in ast.walk(tree) if isinstance(node, FUNCTIONS)]


def test_the_counter_counts_like_radon():
    source = ("def f(a, b):\n"
              "    if a and b or a:\n"          # if 1, bool ops 2
              "        return [x for x in a if x]\n"  # comprehension 2
              "    for item in b:\n"            # for 1
              "        try:\n"
              "            pass\n"
              "        except ValueError:\n"    # handler 1
              "            pass\n"
              "    return 1 if a else 2\n")     # if-expression 1
    assert complexity(ast.parse(source).body[0]) == 1 + 1 + 2 + 2 + 1 + 1 + 1


@pytest.mark.parametrize("path", FILES)
def test_no_function_above_the_limit(path):
    tangled = {"%s:%d" % (node.name, node.lineno): complexity(node) for node in functions_of(path)
               if complexity(node) > LIMIT}
    assert tangled == {}, "split these (complexity above %d): %s" % (LIMIT, tangled)
