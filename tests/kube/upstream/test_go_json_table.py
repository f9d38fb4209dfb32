"""The committed Go struct table (data/k8s_job_json_fields.json) and the Go JSON helpers."""

from __future__ import annotations

import json
import os
from fractions import Fraction
from pathlib import Path

import pytest

from tests.kube.upstream import gen_go_json_fields
from tests.kube.upstream.gojson import (
    ConversionError,
    create_patch,
    parse_quantity,
    parse_rfc3339,
    quantity_string,
    struct_table,
)
from tests.kube.upstream.katib import KATIB_TAGS, KATIB_VERSIONS

TABLE = Path(__file__).with_name("data") / "k8s_job_json_fields.json"


def _field(version: str, type_name: str, json_name: str) -> dict:
    (f,) = [f for f in struct_table(version)["types"][type_name] if f.get("json") == json_name]
    return f


def test_table_provenance_matches_katib_go_mod():
    data = json.loads(TABLE.read_text())
    assert tuple(data["versions"]) == KATIB_VERSIONS
    want = {"0.17": "v0.29.3", "0.18": "v0.31.3", "0.19": "v0.34.0"}
    for v in KATIB_VERSIONS:
        prov = data["versions"][v]["provenance"]
        assert prov["katib"]["tag"] == KATIB_TAGS[v]
        assert prov["k8s.io/api"]["tag"] == want[v]
        assert prov["k8s.io/apimachinery"]["tag"] == want[v]
        assert len(prov["k8s.io/api"]["commit"]) == 40
        assert prov["k8s.io/api"]["files"] == ["batch/v1/types.go", "core/v1/types.go"]


@pytest.mark.parametrize(("version", "omitempty"), [("0.17", False), ("0.18", True), ("0.19", True)])
def test_on_pod_conditions_omitempty_per_version(version, omitempty):
    f = _field(version, "batch/v1.PodFailurePolicyRule", "onPodConditions")
    assert f["omitempty"] is omitempty
    assert f["kind"] == "slice"
    assert f["type"]["elem"] == {"kind": "struct", "name": "batch/v1.PodFailurePolicyOnPodConditionsPattern"}


def test_on_exit_codes_omitempty_changed_with_on_pod_conditions():
    assert _field("0.17", "batch/v1.PodFailurePolicyRule", "onExitCodes")["omitempty"] is False
    assert _field("0.18", "batch/v1.PodFailurePolicyRule", "onExitCodes")["omitempty"] is True
    assert _field("0.19", "batch/v1.PodFailurePolicyRule", "onExitCodes")["kind"] == "pointer"


def test_creation_timestamp_is_omitzero_only_at_k8s_034():
    for v, omitzero in (("0.17", False), ("0.18", False), ("0.19", True)):
        f = _field(v, "meta/v1.ObjectMeta", "creationTimestamp")
        assert f["omitzero"] is omitzero
        assert f["type"] == {"kind": "custom", "name": "meta/v1.Time"}


def test_table_is_closed_and_covers_the_job_tree():
    for v in KATIB_VERSIONS:
        types = struct_table(v)["types"]

        def walk(desc, types=types):
            if desc["kind"] == "struct":
                assert desc["name"] in types, desc
            for k in ("elem", "key"):
                if k in desc:
                    walk(desc[k], types)

        for fields in types.values():
            for f in fields:
                walk(f["type"])
        for t in (
            "batch/v1.JobSpec",
            "core/v1.PodSpec",
            "core/v1.Container",
            "core/v1.Volume",
            "batch/v1.PodFailurePolicy",
            "meta/v1.ObjectMeta",
            "core/v1.ResourceRequirements",
        ):
            assert t in types
    assert "batch/v1.SuccessPolicy" not in struct_table("0.17")["types"]
    assert "batch/v1.SuccessPolicy" in struct_table("0.18")["types"]
    # inline embedding (k8s ``json:",inline"``) is recorded
    assert struct_table("0.19")["types"]["core/v1.Volume"][1]["inline"] is True


@pytest.mark.skipif(
    not (os.environ.get("LEXDPR_K8S_API_GIT") and os.environ.get("LEXDPR_K8S_APIMACHINERY_GIT")),
    reason="set LEXDPR_K8S_API_GIT / LEXDPR_K8S_APIMACHINERY_GIT to git dirs of kubernetes/api and "
    "kubernetes/apimachinery to check the committed table against the generator",
)
def test_generator_reproduces_committed_table(tmp_path):
    out = tmp_path / "t.json"
    gen_go_json_fields.main(
        [
            "--api-git",
            os.environ["LEXDPR_K8S_API_GIT"],
            "--apimachinery-git",
            os.environ["LEXDPR_K8S_APIMACHINERY_GIT"],
            "--out",
            str(out),
        ]
    )
    assert out.read_text() == TABLE.read_text()


def test_generator_parses_go_structs():
    src = """package v1
import (
\tmetav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)
// Foo is a thing.
type Foo struct {
\tmetav1.TypeMeta `json:",inline"`
\t// +optional
\tNames []string `json:"names,omitempty" protobuf:"bytes,1,rep,name=names"`
\tPtr *int32 `json:"ptr"`
\tMode Mode `json:"mode,omitempty"`
\tSkip string `json:"-"`
}
type Mode string
"""
    structs, named, aliases = gen_go_json_fields.parse_go_file(src, "batch/v1")
    assert aliases == {"metav1": "meta/v1"}
    assert named["Mode"] == "string"
    assert [f[0] for f in structs["Foo"]] == [None, "Names", "Ptr", "Mode", "Skip"]


# --------------------------------------------------------------------------- helpers


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("1Gi", "1Gi"),
        ("1024Mi", "1Gi"),
        ("1536Mi", "1536Mi"),
        ("0.5", "500m"),
        ("1000m", "1"),
        ("1500", "1500"),
        ("2000", "2k"),
        ("1e3", "1e3"),
        ("100M", "100M"),
        ("0", "0"),
        ("512", "512"),
    ],
)
def test_quantity_canonical_form(text, canonical):
    assert quantity_string(*parse_quantity(text)) == canonical


def test_quantity_rejects_garbage():
    with pytest.raises(ConversionError):
        parse_quantity("1 Gi")
    assert parse_quantity("1.5Gi")[0] == Fraction(3, 2) * 2**30


def test_go_rfc3339_is_strict():
    assert parse_rfc3339("2024-03-04T17:55:08Z") is not None
    dt, ns = parse_rfc3339("2024-03-04T17:55:08.123456789+09:00")
    assert (dt.hour, ns) == (8, 123456789)
    for bad in (
        "2024-03-04 17:55:08Z",
        "2024-03-04t17:55:08z",
        "2024-02-30T00:00:00Z",
        "2024-03-04T17:55:08",
        "INFO",
        "2024-03-04T24:00:00Z",
        "1709574908",
    ):
        assert parse_rfc3339(bad) is None, bad


def test_jsonpatch_semantics():
    # CreatePatch(after, before): keys only in ``before`` are "add", only in ``after`` are "remove"
    ops = create_patch({"a": 1, "gone": None}, {"a": 1.0, "new": []})
    assert [(o.op, o.path) for o in ops] == [("add", "/new"), ("remove", "/gone")]
    # null in ``after`` against a value in ``before`` is a type change -> replace
    assert [o.op for o in create_patch({"x": None}, {"x": []})] == ["replace"]
    # arrays of different length are compared as sets of elements
    ops = create_patch({"l": [1, 2, 3]}, {"l": [3, 1]})
    assert [(o.op, o.path) for o in ops] == [("remove", "/l/1")]
    # keys are escaped per RFC 6901
    assert create_patch({}, {"a/b": 1})[0].path == "/a~1b"
