"""Generate ``data/k8s_job_json_fields.json`` from the Go sources of k8s.io/api.

The Katib experiment validating webhook round-trips a trial ``batch/v1`` Job
through the typed Go struct (``runtime.DefaultUnstructuredConverter
.FromUnstructured`` followed by ``encoding/json.Marshal``).  What survives that
round trip depends on the Go struct tags (JSON name, ``omitempty``,
``omitzero``) of the k8s.io/api / k8s.io/apimachinery version Katib is built
with.  This script reads those Go sources and writes, for every struct
reachable from ``batch/v1.Job``, its fields in declaration order with their
JSON name, tag options and type descriptor.

Which k8s.io/api version each Katib release builds with comes from Katib's
``go.mod`` (``git show <tag>:go.mod`` in a kubeflow/katib checkout):

==============  ================  ========================  ===========
Katib tag       k8s.io/api        k8s.io/apimachinery       go directive
==============  ================  ========================  ===========
v0.17.0         v0.29.3           v0.29.3                   1.22
v0.18.0         v0.31.3           v0.31.3                   1.22.0
v0.19.0         v0.34.0           v0.34.0                   1.24.0
==============  ================  ========================  ===========

Rerun (needs bare or normal git clones of kubernetes/api and
kubernetes/apimachinery that contain those tags)::

    python tests/kube/upstream/gen_go_json_fields.py \\
        --api-git /path/to/kubernetes/api/.git \\
        --apimachinery-git /path/to/kubernetes/apimachinery/.git

Files read at each tag: ``batch/v1/types.go`` and ``core/v1/types.go``
(kubernetes/api), ``pkg/apis/meta/v1/types.go`` (kubernetes/apimachinery).
Types from other packages that implement their own JSON (un)marshalling
(``resource.Quantity``, ``intstr.IntOrString``, ``metav1.Time``,
``metav1.FieldsV1``) are recorded as ``custom`` leaves; ``types.UID`` is a
named ``string``.  The script fails on any other type it cannot resolve, so a
new upstream type cannot be silently mis-modelled.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

#: Katib version -> (Katib tag, k8s.io/api tag, k8s.io/apimachinery tag, Go directive)
KATIB_BUILDS = {
    "0.17": ("v0.17.0", "v0.29.3", "v0.29.3", "1.22"),
    "0.18": ("v0.18.0", "v0.31.3", "v0.31.3", "1.22.0"),
    "0.19": ("v0.19.0", "v0.34.0", "v0.34.0", "1.24.0"),
}

API_FILES = {"batch/v1": "batch/v1/types.go", "core/v1": "core/v1/types.go"}
APIMACHINERY_FILES = {"meta/v1": "pkg/apis/meta/v1/types.go"}

IMPORT_TO_PKG = {
    "k8s.io/api/batch/v1": "batch/v1",
    "k8s.io/api/core/v1": "core/v1",
    "k8s.io/apimachinery/pkg/apis/meta/v1": "meta/v1",
    "k8s.io/apimachinery/pkg/api/resource": "resource",
    "k8s.io/apimachinery/pkg/util/intstr": "intstr",
    "k8s.io/apimachinery/pkg/types": "types",
}

#: Types with their own MarshalJSON/UnmarshalJSON (leaves for the round trip).
CUSTOM_JSON_TYPES = {
    "resource.Quantity",
    "intstr.IntOrString",
    "meta/v1.Time",
    "meta/v1.MicroTime",
    "meta/v1.FieldsV1",
}
#: Named scalars defined outside the parsed files.
EXTERNAL_SCALARS = {"types.UID": "string"}

GO_SCALARS = {
    "string": "string",
    "bool": "bool",
    "int": "int64",
    "int32": "int32",
    "int64": "int64",
    "uint16": "uint16",
    "uint32": "uint32",
    "uint64": "uint64",
    "float32": "float32",
    "float64": "float64",
    "byte": "uint8",
}


def git_show(git_dir: str, tag: str, path: str) -> str:
    return subprocess.run(
        ["git", f"--git-dir={git_dir}", "show", f"{tag}:{path}"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def git_rev(git_dir: str, tag: str) -> str:
    return subprocess.run(
        ["git", f"--git-dir={git_dir}", "rev-list", "-n", "1", tag],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def strip_comments(src: str) -> str:
    src = re.sub(r"/\*.*?\*/", "", src, flags=re.S)
    out = []
    for line in src.splitlines():
        # struct tags are in backquotes and never contain "//"
        idx = line.find("//")
        if idx >= 0 and line.count("`", 0, idx) % 2 == 0:
            line = line[:idx]
        out.append(line)
    return "\n".join(out)


def parse_imports(src: str) -> dict[str, str]:
    aliases: dict[str, str] = {}
    m = re.search(r"^import \((.*?)^\)", src, flags=re.S | re.M)
    lines = m.group(1).splitlines() if m else []
    lines += re.findall(r"^import (.*)$", src, flags=re.M)
    for line in lines:
        mm = re.match(r'\s*(\w+)?\s*"([^"]+)"', line)
        if not mm:
            continue
        path = mm.group(2)
        alias = mm.group(1) or path.rsplit("/", 1)[-1]
        if path in IMPORT_TO_PKG:
            aliases[alias] = IMPORT_TO_PKG[path]
    return aliases


def parse_go_file(src: str, pkg: str):
    """Return (structs, named) for one Go file.

    structs: name -> list of raw fields (go_name, type_expr, tag or None, embedded)
    named:   name -> type_expr for non-struct named types and aliases
    """
    src = strip_comments(src)
    aliases = parse_imports(src)
    structs: dict[str, list[tuple[str | None, str, str | None]]] = {}
    named: dict[str, str] = {}
    for m in re.finditer(r"^type (\w+) struct \{(.*?)^\}", src, flags=re.S | re.M):
        fields = []
        for line in m.group(2).splitlines():
            line = line.strip()
            if not line:
                continue
            fm = re.match(r"^(\w+)\s+([^`\s]+)\s*(`.*`)?$", line)
            em = re.match(r"^(\*?[\w.]+)\s*(`.*`)?$", line)
            if fm:
                fields.append((fm.group(1), fm.group(2), fm.group(3)))
            elif em:
                fields.append((None, em.group(1), em.group(2)))
            else:
                raise ValueError(f"{pkg}.{m.group(1)}: cannot parse field line {line!r}")
        structs[m.group(1)] = fields
    for m in re.finditer(r"^type (\w+) (=\s*)?([^\s{][^\n]*)$", src, flags=re.M):
        if m.group(3).startswith("struct") or m.group(3).startswith("interface"):
            continue
        named[m.group(1)] = m.group(3).strip()
    return structs, named, aliases


class Resolver:
    def __init__(self, sources: dict[str, str]):
        self.structs: dict[str, list] = {}
        self.named: dict[str, str] = {}
        self.aliases: dict[str, dict[str, str]] = {}
        for pkg, src in sources.items():
            s, n, a = parse_go_file(src, pkg)
            self.aliases[pkg] = a
            for k, v in s.items():
                self.structs[f"{pkg}.{k}"] = v
            for k, v in n.items():
                self.named[f"{pkg}.{k}"] = v
        self.out: dict[str, list[dict]] = {}

    def qualify(self, name: str, pkg: str) -> str:
        if "." in name:
            alias, rest = name.split(".", 1)
            if alias not in self.aliases[pkg]:
                raise ValueError(f"unknown import alias {alias!r} in {pkg}")
            return f"{self.aliases[pkg][alias]}.{rest}"
        return f"{pkg}.{name}"

    def type_desc(self, expr: str, pkg: str) -> dict:
        if expr.startswith("*"):
            return {"kind": "pointer", "elem": self.type_desc(expr[1:], pkg)}
        if expr == "[]byte":
            return {"kind": "bytes"}
        if expr.startswith("[]"):
            return {"kind": "slice", "elem": self.type_desc(expr[2:], pkg)}
        if expr.startswith("map["):
            depth, i = 0, 3
            for i in range(3, len(expr)):
                if expr[i] == "[":
                    depth += 1
                elif expr[i] == "]":
                    depth -= 1
                    if depth == 0:
                        break
            key, elem = expr[4:i], expr[i + 1 :]
            return {
                "kind": "map",
                "key": self.type_desc(key, pkg),
                "elem": self.type_desc(elem, pkg),
            }
        if expr in GO_SCALARS:
            return {"kind": "scalar", "go": GO_SCALARS[expr]}
        q = self.qualify(expr, pkg)
        if q in CUSTOM_JSON_TYPES:
            return {"kind": "custom", "name": q}
        if q in EXTERNAL_SCALARS:
            return {"kind": "scalar", "go": EXTERNAL_SCALARS[q], "name": q}
        if q in self.structs:
            self.visit(q)
            return {"kind": "struct", "name": q}
        if q in self.named:
            qpkg = q.rsplit(".", 1)[0]
            under = self.type_desc(self.named[q].lstrip("= ").strip(), qpkg)
            if under["kind"] == "scalar":
                return {**under, "name": q}
            return under
        raise ValueError(f"cannot resolve Go type {expr!r} (as {q!r})")

    def visit(self, qname: str) -> None:
        if qname in self.out:
            return
        self.out[qname] = []  # guard against recursion
        pkg = qname.rsplit(".", 1)[0]
        fields = []
        for go_name, type_expr, tag in self.structs[qname]:
            json_tag = None
            if tag:
                tm = re.search(r'json:"([^"]*)"', tag)
                json_tag = tm.group(1) if tm else None
            parts = json_tag.split(",") if json_tag is not None else [None]
            name = parts[0]
            opts = set(parts[1:])
            embedded = go_name is None
            if json_tag == "-":
                continue
            if embedded and not name:
                # Embedded struct without a JSON name: encoding/json promotes
                # its fields (``json:",inline"`` is the k8s convention).
                fields.append(
                    {
                        "go": type_expr.split(".")[-1],
                        "inline": True,
                        "type": self.type_desc(type_expr, pkg),
                    }
                )
                continue
            if not name:
                name = go_name or type_expr.split(".")[-1]
            desc = self.type_desc(type_expr, pkg)
            fields.append(
                {
                    "go": go_name or type_expr.split(".")[-1],
                    "json": name,
                    "omitempty": "omitempty" in opts,
                    "omitzero": "omitzero" in opts,
                    "kind": desc["kind"],
                    "type": desc,
                }
            )
        self.out[qname] = fields


def generate(api_git: str, apimachinery_git: str) -> dict:
    result: dict = {
        "description": (
            "Go struct fields (declaration order) reachable from batch/v1 Job, "
            "per Katib version, with JSON name, omitempty/omitzero and type "
            "descriptor. Generated by tests/kube/upstream/gen_go_json_fields.py."
        ),
        "versions": {},
    }
    for katib, (katib_tag, api_tag, am_tag, go_directive) in KATIB_BUILDS.items():
        sources = {}
        for pkg, path in API_FILES.items():
            sources[pkg] = git_show(api_git, api_tag, path)
        for pkg, path in APIMACHINERY_FILES.items():
            sources[pkg] = git_show(apimachinery_git, am_tag, path)
        r = Resolver(sources)
        r.visit("batch/v1.Job")
        result["versions"][katib] = {
            "provenance": {
                "katib": {"repo": "github.com/kubeflow/katib", "tag": katib_tag, "file": "go.mod"},
                "go_directive": go_directive,
                "k8s.io/api": {
                    "repo": "github.com/kubernetes/api",
                    "tag": api_tag,
                    "commit": git_rev(api_git, api_tag),
                    "files": sorted(API_FILES.values()),
                },
                "k8s.io/apimachinery": {
                    "repo": "github.com/kubernetes/apimachinery",
                    "tag": am_tag,
                    "commit": git_rev(apimachinery_git, am_tag),
                    "files": sorted(APIMACHINERY_FILES.values()),
                },
            },
            "types": dict(sorted(r.out.items())),
        }
    return result


def dump(data: dict) -> str:
    """JSON with one struct field per line (compact but diff-friendly)."""
    out = ["{", f' "description": {json.dumps(data["description"])},', ' "versions": {']
    versions = list(data["versions"].items())
    for vi, (v, d) in enumerate(versions):
        out.append(f"  {json.dumps(v)}: {{")
        out.append(f'   "provenance": {json.dumps(d["provenance"])},')
        out.append('   "types": {')
        types = list(d["types"].items())
        for ti, (name, fields) in enumerate(types):
            out.append(f"    {json.dumps(name)}: [")
            for fi, f in enumerate(fields):
                sep = "," if fi < len(fields) - 1 else ""
                out.append(f"     {json.dumps(f)}{sep}")
            out.append("    ]" + ("," if ti < len(types) - 1 else ""))
        out.append("   }")
        out.append("  }" + ("," if vi < len(versions) - 1 else ""))
    out.append(" }")
    out.append("}")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--api-git", required=True, help="git dir of kubernetes/api")
    ap.add_argument("--apimachinery-git", required=True, help="git dir of kubernetes/apimachinery")
    ap.add_argument(
        "--out",
        default=str(Path(__file__).with_name("data") / "k8s_job_json_fields.json"),
    )
    args = ap.parse_args(argv)
    data = generate(args.api_git, args.apimachinery_git)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(dump(data))
    for v, d in data["versions"].items():
        print(f"{v}: {len(d['types'])} struct types", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
