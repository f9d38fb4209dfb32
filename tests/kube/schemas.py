"""Kubernetes objects checked against the API's JSON schemas, offline, for several Kubernetes versions.

The schemas are the ones `kubernetes-validate` bundles (1.25 … 1.37, each also in a `-strict` flavour that
rejects unknown fields, as `kubectl apply --validate=strict` and the API server's field validation do).
Its own `validate()` stops at the first error; here `jsonschema` lists every error with its path, so one
test run shows all that is wrong with a chart.

Custom resources (Katib's Experiment) have no schema here; `katib_check` covers them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from importlib import resources
from typing import Any

#: The oldest Kubernetes we support (CronJob.spec.timeZone is GA from 1.27) … the newest schemas bundled.
SUPPORTED_VERSIONS = ("1.29", "1.30", "1.31", "1.32", "1.33", "1.34", "1.35", "1.36", "1.37")
CUSTOM_GROUPS = ("kubeflow.org",)


class SchemaUnavailable(RuntimeError):
    """kubernetes-validate is not installed, or has no schema for this kind/version."""


class KubernetesSchemas:
    """Validators per (version, apiVersion, kind), built on first use and kept for the object's lifetime."""

    def __init__(self, strict: bool = True):
        self.strict = strict
        self._definitions: dict[str, Any] = {}
        self._validators: dict[tuple[str, str, str], Any] = {}

    def errors(self, document: Mapping[str, Any], version: str) -> list[str]:
        """Every schema violation of `document` for Kubernetes `version`, as `path: message` lines."""
        validator = self._validator(version, str(document.get("apiVersion")), str(document.get("kind")))
        out = []
        for error in sorted(
            validator.iter_errors(dict(document)), key=lambda e: list(map(str, e.absolute_path))
        ):
            path = ".".join(str(p) for p in error.absolute_path) or "(root)"
            out.append(f"{path}: {_short(error.message)}")
        return out

    def check_all(
        self,
        documents: Iterable[Mapping[str, Any]],
        versions: Iterable[str] = SUPPORTED_VERSIONS,
        skip_custom: bool = True,
    ) -> list[str]:
        """`kind/name @ version: path: message` for every error of every document in every version."""
        problems = []
        for document in documents:
            if skip_custom and is_custom(document):
                continue
            name = f"{document.get('kind')}/{(document.get('metadata') or {}).get('name')}"
            for version in versions:
                problems += [f"{name} @ {version}: {e}" for e in self.errors(document, version)]
        return problems

    def _validator(self, version: str, api_version: str, kind: str) -> Any:
        key = (version, api_version, kind)
        if key not in self._validators:
            try:
                import jsonschema
                from referencing import Registry, Resource
            except ModuleNotFoundError as exc:
                raise SchemaUnavailable(
                    f"{exc.name} is not installed (pip install kubernetes-validate)"
                ) from None

            folder = self._folder(version)
            group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
            name = f"{kind.lower()}-{group_version}.json"
            try:
                schema = json.loads(folder.joinpath(name).read_text(encoding="utf-8"))
            except FileNotFoundError:
                raise SchemaUnavailable(
                    f"no Kubernetes {version} schema for {kind} ({api_version})"
                ) from None
            if version not in self._definitions:
                self._definitions[version] = json.loads(
                    folder.joinpath("_definitions.json").read_text(encoding="utf-8")
                )
            registry = Resource.from_contents(schema) @ Registry()
            registry = Resource.from_contents(self._definitions[version]) @ registry
            self._validators[key] = jsonschema.Draft202012Validator(schema, registry=registry)
        return self._validators[key]

    def _folder(self, version: str) -> Any:
        try:
            root = resources.files("kubernetes_validate").joinpath("kubernetes-json-schema")
        except ModuleNotFoundError:
            raise SchemaUnavailable(
                "kubernetes-validate is not installed (pip install kubernetes-validate)"
            ) from None
        folder = root.joinpath(f"v{version}.0-local" + ("-strict" if self.strict else ""))
        if not folder.is_dir():
            raise SchemaUnavailable(f"kubernetes-validate has no schemas for Kubernetes {version}")
        return folder


def is_custom(document: Mapping[str, Any]) -> bool:
    group = str(document.get("apiVersion", "")).split("/")[0]
    return group.endswith(CUSTOM_GROUPS)


def _short(message: str) -> str:
    return message if len(message) < 300 else message[:297] + "..."
