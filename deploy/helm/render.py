#!/usr/bin/env python3
"""Renders deploy/helm/kb-nova like `helm template` for the subset of Helm's template language the chart
uses — `define`/`include`, `if`/`else`/`end`, `.Values`/`.Release`/`.Chart` fields, `toYaml`, and the
pipes `quote`, `nindent N`, `indent N` — and refuses anything else, so the chart cannot drift into syntax
this check does not understand. `helm` itself is not installable here (no Go toolchain or binary in the
package registries this project may use); with helm at hand, `helm lint` and `helm template` are the
reference. Used by crates/nova-cli/tests/deploy.rs, which validates the output against the Kubernetes
OpenAPI schemas (kubernetes-validate).

Usage: render.py CHART_DIR [--set a.b=value ...]   (YAML documents on stdout)
"""
import json
import pathlib
import re
import sys

import yaml

TAG = re.compile(r"\{\{(-?)\s*(.*?)\s*(-?)\}\}", re.S)


def tokens(text):
    """Text and actions, with Helm's whitespace trimming applied."""
    out, pos = [], 0
    for m in TAG.finditer(text):
        chunk = text[pos:m.start()]
        if m.group(1):
            chunk = chunk.rstrip()
        out.append(("text", chunk))
        out.append(("action", m.group(2)))
        pos = m.end()
        if m.group(3):
            rest = text[pos:]
            pos += len(rest) - len(rest.lstrip())
    out.append(("text", text[pos:]))
    return out


def parse(toks, i=0, stop=("end",)):
    """A list of nodes up to one of `stop`; returns (nodes, index of the stopping action, its word)."""
    nodes = []
    while i < len(toks):
        kind, value = toks[i]
        if kind == "text":
            nodes.append(("text", value))
            i += 1
            continue
        word = value.split()[0] if value else ""
        if word in stop:
            return nodes, i, word
        if word == "if":
            then, i, how = parse(toks, i + 1, ("else", "end"))
            other = []
            if how == "else":
                other, i, _ = parse(toks, i + 1, ("end",))
            nodes.append(("if", value[2:].strip(), then, other))
            i += 1
        elif word == "define":
            name = json.loads(value.split(None, 1)[1])
            body, i, _ = parse(toks, i + 1, ("end",))
            nodes.append(("define", name, body))
            i += 1
        elif word in ("range", "with", "template", "tpl", "else", "end"):
            raise SystemExit(f"render.py does not support `{word}`: keep the chart to the subset it checks")
        else:
            nodes.append(("expr", value))
            i += 1
    return nodes, i, None


def field(ctx, path):
    value = ctx
    for part in path.strip(".").split("."):
        if not isinstance(value, dict) or part not in value:
            raise SystemExit(f"no value at .{path.strip('.')}")
        value = value[part]
    return value


def pipeline(expr, ctx, defines):
    parts = [p.strip() for p in expr.split("|")]
    head = parts[0].split()
    if head[0] == "include":
        value = render(defines[json.loads(head[1])], ctx, defines)
    elif head[0] == "toYaml":
        value = yaml.safe_dump(field(ctx, head[1]), default_flow_style=False, sort_keys=False).rstrip("\n")
    elif head[0].startswith(".") and len(head) == 1:
        value = field(ctx, head[0])
    else:
        raise SystemExit(f"render.py does not support `{expr}`")
    for pipe in parts[1:]:
        words = pipe.split()
        if words == ["quote"]:
            value = json.dumps(str(value))
        elif words[0] in ("nindent", "indent") and len(words) == 2:
            pad = " " * int(words[1])
            value = ("\n" if words[0] == "nindent" else "") + "\n".join(pad + line for line in str(value).split("\n"))
        else:
            raise SystemExit(f"render.py does not support the pipe `{pipe}`")
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def render(nodes, ctx, defines):
    out = []
    for node in nodes:
        if node[0] == "text":
            out.append(node[1])
        elif node[0] == "expr":
            out.append(pipeline(node[1], ctx, defines))
        elif node[0] == "if":
            out.append(render(node[2] if field(ctx, node[1]) else node[3], ctx, defines))
        elif node[0] == "define":
            defines[node[1]] = node[2]
    return "".join(out)


def main():
    chart = pathlib.Path(sys.argv[1])
    values = yaml.safe_load((chart / "values.yaml").read_text())
    args = sys.argv[2:]
    while args:
        flag, setting = args[0], args[1]
        args = args[2:]
        if flag != "--set":
            raise SystemExit(f"unknown flag {flag}")
        path, raw = setting.split("=", 1)
        *parents, last = path.split(".")
        target = values
        for p in parents:
            target = target.setdefault(p, {})
        target[last] = yaml.safe_load(raw)
    meta = yaml.safe_load((chart / "Chart.yaml").read_text())
    ctx = {
        "Values": values,
        "Release": {"Name": "kb-nova", "Namespace": "default", "Service": "Helm"},
        "Chart": {"Name": meta["name"], "Version": meta["version"], "AppVersion": meta["appVersion"]},
    }
    defines = {}
    templates = sorted((chart / "templates").iterdir())
    for t in templates:
        if t.suffix == ".tpl":
            render(parse(tokens(t.read_text()))[0], ctx, defines)
    docs = []
    for t in templates:
        if t.suffix == ".yaml":
            text = render(parse(tokens(t.read_text()))[0], ctx, defines).strip()
            if text:
                docs.append(f"# Source: {t.name}\n{text}\n")
    sys.stdout.write("---\n".join(docs))


if __name__ == "__main__":
    main()
