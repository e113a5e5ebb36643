#!/usr/bin/env python3
"""STYLE.md: no circles between the files of a layer.

A file depends on another when it calls a function (or uses a global) that
the other defines. Within each src/<layer>/, those dependencies must form no
cycle, so every file can be read knowing only the files below it. Definitions
are found as clang-format writes them: a line at column 0 naming a cairn_ or
cairn__ identifier followed by '(' (or a global's '=' / ';') whose next line
opens the body. Exit 0 when clean; otherwise prints each cycle with the names
behind each edge and exits 1.
"""
import os
import re
import sys

root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..")
src = os.path.join(root, "src")
DEF = re.compile(r"^[A-Za-z_][^;(]*?\b(cairn_{1,2}[A-Za-z0-9_]+)\s*\(")
GLOBAL = re.compile(r"^(?!static\b)(?!extern\b)[A-Za-z_][\w \*]*\b(cairn_{1,2}[A-Za-z0-9_]+)\s*(=|;|\[)")
USE = re.compile(r"\bcairn_{1,2}[A-Za-z0-9_]+\b")


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


def scan(layer_dir):
    defs, uses = {}, {}
    for name in sorted(os.listdir(layer_dir)):
        if not name.endswith(".c"):
            continue
        lines = strip_comments(open(os.path.join(layer_dir, name), encoding="utf-8").read()).split("\n")
        mine = set()
        for i, line in enumerate(lines):
            if line.startswith("static"):
                continue
            m = DEF.match(line)
            if m:
                # A definition when the body follows (possibly after a wrapped
                # parameter list), not a prototype.
                j = i
                while j < len(lines) and not lines[j].rstrip().endswith((")", "{", ";")):
                    j += 1
                if j < len(lines) and not lines[j].rstrip().endswith(";"):
                    mine.add(m.group(1))
                continue
            m = GLOBAL.match(line)
            if m and not line.lstrip().startswith(("return", "typedef")):
                mine.add(m.group(1))
        for d in mine:
            defs[d] = name
        uses[name] = set(USE.findall("\n".join(lines)))
    graph = {f: {} for f in uses}
    for f, used in uses.items():
        for u in used:
            g = defs.get(u)
            if g is not None and g != f:
                graph[f].setdefault(g, set()).add(u)
    return graph


def cycles(graph):
    index, low, stack, on, out, n = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = n[0]
        n[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


bad = False
for layer in sorted(os.listdir(src)):
    d = os.path.join(src, layer)
    if not os.path.isdir(d):
        continue
    graph = scan(d)
    for comp in cycles(graph):
        bad = True
        print(f"src/{layer}: files depend on each other in a circle: {', '.join(comp)}")
        for a in comp:
            for b, names in sorted(graph[a].items()):
                if b in comp:
                    print(f"  {a} -> {b}: {', '.join(sorted(names)[:4])}{' ...' if len(names) > 4 else ''}")
if not bad:
    print("cycles: none between the files of any layer")
sys.exit(1 if bad else 0)
