"""Go-side JSON machinery the Katib webhook relies on, ported to Python.

* ``from_unstructured`` / ``marshal``: ``runtime.DefaultUnstructuredConverter
  .FromUnstructured`` (kubernetes/apimachinery ``pkg/runtime/converter.go`` at
  v0.29.3, v0.31.3 and v0.34.0 -- the function is identical at the three tags)
  into a typed Go value, then ``encoding/json.Marshal`` of that value, driven by
  the struct table ``data/k8s_job_json_fields.json`` (see
  ``gen_go_json_fields.py``).
* ``create_patch``: ``jsonpatch.CreatePatch`` of github.com/mattbaird/jsonpatch
  at commit 81af80346b1a (the version pinned in Katib's go.mod at v0.17.0,
  v0.18.0 and v0.19.0).
* ``parse_quantity`` / ``quantity_string``: ``resource.ParseQuantity`` and
  ``Quantity.String`` (kubernetes/apimachinery ``pkg/api/resource/quantity.go``).
* ``parse_rfc3339``: Go's ``time.Parse(time.RFC3339Nano, s)``.

Go values are modelled as: ``NIL`` for nil pointers/slices/maps; a ``dict``
``{go_field_name: value}`` for a struct (missing fields are the zero value);
Python scalars for scalars; ``Custom`` instances for types with their own JSON
(un)marshalling.
"""

from __future__ import annotations

import base64
import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from functools import cache
from pathlib import Path

DATA = Path(__file__).with_name("data")


class _Nil:
    __slots__ = ()

    def __repr__(self) -> str:
        return "NIL"


NIL = _Nil()


class ConversionError(Exception):
    """An error ``FromUnstructured`` would return."""


@dataclass(frozen=True)
class Custom:
    """A value of a type with its own JSON marshalling (Quantity, IntOrString, Time...)."""

    type_name: str
    json_value: object  # what MarshalJSON emits (already a JSON value)
    is_zero: bool


@cache
def struct_table(katib_version: str) -> dict:
    data = json.loads((DATA / "k8s_job_json_fields.json").read_text())
    if katib_version not in data["versions"]:
        raise ValueError(f"unknown Katib version {katib_version!r}; known: {sorted(data['versions'])}")
    return data["versions"][katib_version]


# --------------------------------------------------------------------------- Go formatting


def go_kind(v: object) -> str:
    """reflect.Kind name of a value of an unstructured object."""
    if v is None:
        return "invalid"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int64"
    if isinstance(v, float):
        return "float64"
    if isinstance(v, str):
        return "string"
    if isinstance(v, dict):
        return "map"
    if isinstance(v, list):
        return "slice"
    return type(v).__name__


def go_float_str(f: float) -> str:
    """strconv.FormatFloat(f, 'g'-ish) as used by fmt %v and encoding/json."""
    if f == int(f) and abs(f) < 1e21:
        return str(int(f))
    return repr(f)


def go_fmt_v(v: object) -> str:
    """Approximation of Go's ``fmt.Sprintf("%v", v)`` for unstructured values."""
    if v is None or v is NIL:
        return "<nil>"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return go_float_str(v)
    if isinstance(v, dict):
        return "map[" + " ".join(f"{k}:{go_fmt_v(v[k])}" for k in sorted(v)) + "]"
    if isinstance(v, list):
        return "[" + " ".join(go_fmt_v(x) for x in v) + "]"
    return str(v)


def go_json_dumps(v: object, *, sort_keys: bool = True) -> str:
    """encoding/json.Marshal of a JSON value, HTML-safe escaping.  Maps (unstructured objects) have
    sorted keys; pass ``sort_keys=False`` for a marshalled struct (declaration order kept)."""

    def norm(x):
        if isinstance(x, float) and x == int(x) and abs(x) < 1e21:
            return int(x)
        if isinstance(x, dict):
            return {k: norm(x[k]) for k in x}
        if isinstance(x, list):
            return [norm(i) for i in x]
        return x

    s = json.dumps(norm(v), sort_keys=sort_keys, separators=(",", ":"), ensure_ascii=False)
    return (
        s.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


# --------------------------------------------------------------------------- time


_RFC3339 = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$")


def parse_rfc3339(s: str) -> tuple[datetime, int] | None:
    """Go ``time.Parse(time.RFC3339Nano, s)``; returns (UTC datetime to the second, nanoseconds) or None.

    Ported from Go's ``time/format_rfc3339.go`` (parseRFC3339): upper-case ``T``
    and ``Z`` only, optional fraction of any length (truncated to nanoseconds),
    numeric offsets ``±hh:mm`` with hh < 24 and mm < 60, calendar-valid dates,
    second < 60.
    """
    m = _RFC3339.match(s)
    if not m:
        return None
    year, month, day, hh, mm, ss = (int(m.group(i)) for i in range(1, 7))
    frac, tz = m.group(7), m.group(8)
    if hh > 23 or mm > 59 or ss > 59:
        return None
    try:
        base = datetime(year, month, day, hh, mm, ss, tzinfo=UTC)
    except ValueError:
        return None
    nanos = int((frac or "0")[:9].ljust(9, "0"))
    if tz != "Z":
        oh, om = int(tz[1:3]), int(tz[4:6])
        if oh > 23 or om > 59:
            return None
        off = timedelta(hours=oh, minutes=om)
        base = base - off if tz[0] == "+" else base + off
    return base, nanos


ZERO_TIME_RFC3339 = "0001-01-01T00:00:00Z"  # time.Time{}.UTC().Format(time.RFC3339)


# --------------------------------------------------------------------------- resource.Quantity

_QTY = re.compile(r"^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$")
_BIN = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DEC = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
QUANTITY_ERR = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"


def parse_quantity(s: str) -> tuple[Fraction, str]:
    """``resource.ParseQuantity`` (apimachinery pkg/api/resource/quantity.go @ v0.29.3/v0.31.3/v0.34.0): returns (exact value, format) with format BinarySI/DecimalSI/DecimalExponent."""
    if not s:
        raise ConversionError("quantities must match the regular expression")
    m = _QTY.match(s)
    if not m:
        raise ConversionError(QUANTITY_ERR)
    num, suffix = m.group(1), m.group(2)
    if num.count(".") > 1 or num.lstrip("+-") in ("", "."):
        raise ConversionError(QUANTITY_ERR)
    value = Fraction(num)
    if suffix in _BIN:
        value *= 2 ** _BIN[suffix]
        fmt = "BinarySI"
    elif suffix in _DEC:
        value *= Fraction(10) ** _DEC[suffix]
        fmt = "DecimalSI"
    elif re.fullmatch(r"[eE][-+]?[0-9]+", suffix):
        value *= Fraction(10) ** int(suffix[1:])
        fmt = "DecimalExponent"
    else:
        raise ConversionError("unable to parse quantity's suffix")
    # values are rounded up (away from zero) to 1n precision
    scaled = value * 10**9
    if scaled.denominator != 1:
        scaled = Fraction(math.ceil(scaled)) if scaled > 0 else Fraction(math.floor(scaled))
        value = scaled / 10**9
    return value, fmt


def quantity_string(value: Fraction, fmt: str) -> str:
    """``Quantity.String()`` / ``CanonicalizeBytes`` (apimachinery pkg/api/resource/quantity.go @ v0.29.3-v0.34.0)."""
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    v = abs(value)
    if fmt == "BinarySI":
        if v < 1024 or v.denominator != 1:
            fmt = "DecimalSI"
        else:
            n = int(v)
            exp = 0
            while n % 1024 == 0 and exp < 60:
                n //= 1024
                exp += 10
            suffix = {0: "", **{b: s for s, b in _BIN.items()}}[exp]
            return f"{sign}{n}{suffix}"
    # decimal: integer mantissa, exponent a multiple of 3, as large as possible
    exp = -9
    mant = v * 10**9
    while mant.denominator != 1:  # cannot happen after rounding, kept for safety
        mant *= 1000
        exp -= 3
    m = int(mant)
    while m % 1000 == 0 and exp < 18 and m != 0:
        m //= 1000
        exp += 3
    if fmt == "DecimalExponent":
        return f"{sign}{m}" + (f"e{exp}" if exp != 0 else "")
    suffix = {e: s for s, e in _DEC.items()}[exp]
    return f"{sign}{m}{suffix}"


# --------------------------------------------------------------------------- custom types


def _custom_from_unstructured(name: str, sv: object) -> Custom:
    """``UnmarshalJSON`` of Quantity (pkg/api/resource/quantity.go), IntOrString (pkg/util/intstr/intstr.go),
    Time/MicroTime (pkg/apis/meta/v1/time.go) at apimachinery v0.29.3-v0.34.0, fed with ``json.Marshal(sv)``
    as ``fromUnstructured`` does for types with a custom unmarshaller."""
    if name == "resource.Quantity":
        if isinstance(sv, (int, float)) and not isinstance(sv, bool):
            text = go_json_dumps(sv)
        elif isinstance(sv, str):
            text = sv.strip()
        else:
            raise ConversionError(QUANTITY_ERR)
        value, fmt = parse_quantity(text)
        return Custom(name, quantity_string(value, fmt), value == 0)
    if name == "intstr.IntOrString":
        if isinstance(sv, str):
            return Custom(name, sv, sv == "")
        if isinstance(sv, bool) or not isinstance(sv, (int, float)):
            raise ConversionError(f"json: cannot unmarshal {go_kind(sv)} into Go value of type int32")
        if isinstance(sv, float) and sv != int(sv):
            raise ConversionError(
                f"json: cannot unmarshal number {go_float_str(sv)} into Go value of type int32"
            )
        n = int(sv)
        if not -(2**31) <= n < 2**31:
            raise ConversionError(f"json: cannot unmarshal number {n} into Go value of type int32")
        return Custom(name, n, n == 0)
    if name in ("meta/v1.Time", "meta/v1.MicroTime"):
        if not isinstance(sv, str):
            raise ConversionError(f"json: cannot unmarshal {go_kind(sv)} into Go value of type string")
        if sv == "":
            return Custom(name, None, True)
        parsed = parse_rfc3339(sv)
        if parsed is None:
            raise ConversionError(f'parsing time "{sv}" as "2006-01-02T15:04:05Z07:00": cannot parse')
        dt, nanos = parsed
        if name == "meta/v1.Time":  # MarshalJSON: t.UTC().Format(time.RFC3339), seconds precision
            out = dt.strftime("%Y-%m-%dT%H:%M:%SZ")
        else:  # RFC3339Micro "2006-01-02T15:04:05.000000Z07:00"
            out = dt.strftime("%Y-%m-%dT%H:%M:%S") + f".{nanos // 1000:06d}Z"
        return Custom(name, out, dt == datetime(1, 1, 1, tzinfo=UTC) and nanos == 0)
    if name == "meta/v1.FieldsV1":
        return Custom(name, sv, False)
    raise ConversionError(f"unsupported custom type {name}")


def _custom_zero(name: str) -> Custom:
    return {
        "resource.Quantity": Custom(name, "0", True),
        "intstr.IntOrString": Custom(name, 0, True),
        "meta/v1.Time": Custom(name, None, True),
        "meta/v1.MicroTime": Custom(name, None, True),
        "meta/v1.FieldsV1": Custom(name, None, True),
    }[name]


# --------------------------------------------------------------------------- FromUnstructured


_INT_RANGES = {
    "int32": (-(2**31), 2**31),
    "int64": (-(2**63), 2**63),
    "uint16": (0, 2**16),
    "uint32": (0, 2**32),
    "uint64": (0, 2**64),
    "uint8": (0, 2**8),
}


def _go_type_string(desc: dict) -> str:
    name = desc.get("name")
    if name:
        return name.split("/")[-1] if "/" in name else name
    return desc["go"]


def _wrap_int(n: int, go: str) -> int:
    lo, hi = _INT_RANGES[go]
    span = hi - lo
    return (n - lo) % span + lo


def zero_value(desc: dict):
    kind = desc["kind"]
    if kind in ("pointer", "slice", "map", "bytes"):
        return NIL
    if kind == "struct":
        return {}
    if kind == "custom":
        return _custom_zero(desc["name"])
    go = desc["go"]
    if go == "string":
        return ""
    if go == "bool":
        return False
    if go.startswith("float"):
        return 0.0
    return 0


def from_unstructured(sv: object, desc: dict, katib_version: str):
    """Port of ``fromUnstructured`` (apimachinery pkg/runtime/converter.go @ v0.29.3/v0.31.3/v0.34.0)."""
    if sv is None:
        return zero_value(desc)
    kind = desc["kind"]
    if kind == "scalar":
        go = desc["go"]
        sk = go_kind(sv)
        if go == "string":
            if sk == "string":
                return sv
            if sk == "int64":  # ints are ConvertibleTo string in Go, but the converter refuses
                return _raise(f"cannot convert int64 to {_go_type_string(desc)}")
            return _raise(f"unrecognized type: {go}")
        if go == "bool":
            if sk == "bool":
                return sv
            return _raise("unrecognized type: bool")
        if go in _INT_RANGES:
            if sk == "int64":
                return _wrap_int(sv, go)
            if sk == "float64":
                if sv == math.trunc(sv):
                    return _wrap_int(int(sv), go)
                return _raise(f"cannot convert float64 to {_go_type_string(desc)}")
            return _raise(f"unrecognized type: {go}")
        if go.startswith("float"):
            if sk in ("int64", "float64"):
                return float(sv)
            return _raise(f"unrecognized type: {go}")
        return _raise(f"unrecognized type: {go}")
    if kind == "custom":
        return _custom_from_unstructured(desc["name"], sv)
    if kind == "bytes":
        if isinstance(sv, str):
            if not sv:
                return b""
            try:
                return base64.b64decode(sv, validate=True)
            except ValueError as exc:
                raise ConversionError(f"error decoding from json: {exc}") from exc
        if not isinstance(sv, list):
            return _raise(f"cannot restore slice from {go_kind(sv)}")
        return bytes(from_unstructured(x, {"kind": "scalar", "go": "uint8"}, katib_version) for x in sv)
    if kind == "slice":
        if not isinstance(sv, list):
            return _raise(f"cannot restore slice from {go_kind(sv)}")
        return [from_unstructured(x, desc["elem"], katib_version) for x in sv]
    if kind == "map":
        if not isinstance(sv, dict):
            return _raise(f"cannot restore map from {go_kind(sv)}")
        return {k: from_unstructured(v, desc["elem"], katib_version) for k, v in sv.items()}
    if kind == "pointer":
        return from_unstructured(sv, desc["elem"], katib_version)
    if kind == "struct":
        if not isinstance(sv, dict):
            return _raise(f"cannot restore struct from: {go_kind(sv)}")
        out = {}
        for f in struct_table(katib_version)["types"][desc["name"]]:
            if f.get("inline"):
                out[f["go"]] = from_unstructured(sv, f["type"], katib_version)
            elif f["json"] in sv:
                out[f["go"]] = from_unstructured(sv[f["json"]], f["type"], katib_version)
        return out  # unknown keys are dropped (FromUnstructured does not validate)
    raise ConversionError(f"unrecognized type: {kind}")


def _raise(msg: str):
    raise ConversionError(msg)


# --------------------------------------------------------------------------- encoding/json.Marshal


def _is_empty(v, desc: dict) -> bool:
    """Go encoding/json ``isEmptyValue`` (encode.go): false, 0, "", nil pointer, len-0 slice/map. Structs never."""
    kind = desc["kind"]
    if kind in ("pointer",):
        return v is NIL
    if kind in ("slice", "map", "bytes"):
        return v is NIL or len(v) == 0
    if kind == "scalar":
        if isinstance(v, (str, bool)):
            return v in ("", False)
        return v == 0
    return False  # struct and custom struct types (Quantity, IntOrString, Time)


def _is_zero(v, desc: dict) -> bool:
    """encoding/json omitzero (Go >= 1.24): IsZero() method if any, else the Go zero value."""
    kind = desc["kind"]
    if kind == "custom":
        return v.is_zero
    if kind in ("pointer", "slice", "map", "bytes"):
        return v is NIL
    if kind == "struct":
        return all(_is_zero(v.get(f["go"], zero_value(f["type"])), f["type"]) for f in _fields(desc))
    return v == zero_value(desc)


_CURRENT_VERSION: list[str] = []


def _fields(desc: dict) -> list[dict]:
    return struct_table(_CURRENT_VERSION[-1])["types"][desc["name"]]


def marshal(v, desc: dict, katib_version: str):
    """encoding/json.Marshal of a Go value produced by from_unstructured, as a JSON value."""
    _CURRENT_VERSION.append(katib_version)
    try:
        return _marshal(v, desc)
    finally:
        _CURRENT_VERSION.pop()


def _marshal(v, desc: dict):
    kind = desc["kind"]
    if kind == "custom":
        return v.json_value
    if kind in ("pointer", "slice", "map", "bytes") and v is NIL:
        return None
    if kind == "pointer":
        return _marshal(v, desc["elem"])
    if kind == "bytes":
        return base64.b64encode(v).decode()
    if kind == "slice":
        return [_marshal(x, desc["elem"]) for x in v]
    if kind == "map":
        return {k: _marshal(v[k], desc["elem"]) for k in sorted(v)}
    if kind == "struct":
        out: dict = {}
        for f in _fields(desc):
            fv = v.get(f["go"], zero_value(f["type"]))
            if f.get("inline"):
                for k, x in _marshal(fv, f["type"]).items():
                    out.setdefault(k, x)
                continue
            if f["omitempty"] and _is_empty(fv, f["type"]):
                continue
            if f["omitzero"] and _is_zero(fv, f["type"]):
                continue
            out[f["json"]] = _marshal(fv, f["type"])
        return out
    return v


# --------------------------------------------------------------------------- mattbaird/jsonpatch


@dataclass(frozen=True)
class PatchOp:
    op: str
    path: str
    value: object = None


def _norm_json(v):
    """json.Unmarshal into interface{}: every number becomes float64."""
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return v
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, dict):
        return {k: _norm_json(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_norm_json(x) for x in v]
    return v


def _jtype(v) -> str:
    if v is None:
        return "nil"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, float):
        return "float64"
    if isinstance(v, str):
        return "string"
    if isinstance(v, dict):
        return "map"
    return "slice"


def _make_path(path: str, part) -> str:
    key = str(part).replace("~", "~0").replace("/", "~1")
    if path == "":
        return "/" + key
    if path.endswith("/"):
        return path + key
    return path + "/" + key


def create_patch(a: dict, b: dict) -> list[PatchOp]:
    """``jsonpatch.CreatePatch(a, b)``: operations turning ``a`` into ``b`` (mattbaird/jsonpatch@81af803).

    Upstream iterates Go maps (random order); here keys are visited in sorted order.
    """
    return _diff(_norm_json(a), _norm_json(b), "", [])


def _diff(a: dict, b: dict, path: str, patch: list[PatchOp]) -> list[PatchOp]:
    """``diff`` of mattbaird/jsonpatch@81af803 (jsonpatch.go)."""
    for key in sorted(b):
        bv = b[key]
        p = _make_path(path, key)
        if key not in a:
            patch.append(PatchOp("add", p, bv))
            continue
        av = a[key]
        if _jtype(av) != _jtype(bv):
            patch.append(PatchOp("replace", p, bv))
            continue
        _handle_values(av, bv, p, patch)
    for key in sorted(a):
        if key not in b:
            patch.append(PatchOp("remove", _make_path(path, key), None))
    return patch


def _handle_values(av, bv, p: str, patch: list[PatchOp]) -> None:
    """``handleValues`` of mattbaird/jsonpatch@81af803 (jsonpatch.go)."""
    at = _jtype(av)
    if at == "map":
        if _jtype(bv) != "map":  # upstream would panic on the type assertion
            patch.append(PatchOp("replace", p, bv))
        else:
            _diff(av, bv, p, patch)
    elif at in ("string", "float64", "bool"):
        if _jtype(bv) != at or av != bv:
            patch.append(PatchOp("replace", p, bv))
    elif at == "slice":
        if _jtype(bv) != "slice":
            patch.append(PatchOp("replace", p, bv))
        elif len(av) != len(bv):
            patch.extend(_compare_array(av, bv, p))
        else:
            for i in range(len(bv)):
                _handle_values(av[i], bv[i], _make_path(p, i), patch)
    elif at == "nil" and bv is not None:
        patch.append(PatchOp("add", p, bv))


def _deep_equal(x, y) -> bool:
    """reflect.DeepEqual on decoded JSON values (type-strict)."""
    if _jtype(x) != _jtype(y):
        return False
    if isinstance(x, dict):
        return x.keys() == y.keys() and all(_deep_equal(x[k], y[k]) for k in x)
    if isinstance(x, list):
        return len(x) == len(y) and all(_deep_equal(i, j) for i, j in zip(x, y, strict=True))
    return x == y


def _compare_array(av: list, bv: list, p: str) -> list[PatchOp]:
    """``compareArray`` of mattbaird/jsonpatch@81af803 (jsonpatch.go): element membership, not position."""
    out = []
    for i, v in enumerate(av):
        if not any(_deep_equal(v, v2) for v2 in bv):
            out.append(PatchOp("remove", _make_path(p, i), None))
    for i, v in enumerate(bv):
        if not any(_deep_equal(v, v2) for v2 in av):
            out.append(PatchOp("add", _make_path(p, i), v))
    return out
