"""The few Kubernetes API calls lexdpr makes, behind a protocol so tests can record them instead.

Calls: get/create/patch an Experiment, list its Trials, patch a Trial's annotations, get/patch a trial's Job
(a batch/v1 Job, or the Training Operator's PyTorchJob of a multi-node trial).
`KubernetesKatibApi` makes them with the official client (in-cluster service account, or the kubeconfig);
the tests replace it with an in-memory fake (`tests/kube/katib_sim.py`) that checks every request body
against the Kubernetes schemas and Katib's webhook rules.

Patches: an Experiment is changed with a JSON merge patch that carries `metadata.resourceVersion`, so a
concurrent change (a user editing it, the controller) makes the API answer 409 instead of being overwritten;
a Job with a JSON patch (`add /spec/suspend`), which is what the client sends for Jobs.
API errors become `LexDprError`s that say what to check (RBAC, Katib installed, the namespace).
"""

from __future__ import annotations

import contextlib
import os
from typing import Any, Protocol

from lexdpr.errors import LexDprError

GROUP = "kubeflow.org"
VERSION = "v1beta1"
EXPERIMENT_LABEL = "katib.kubeflow.org/experiment"
PYTORCHJOB_VERSION = "v1"
_NAMESPACE_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"


class KatibApiError(LexDprError):
    """A Kubernetes API call failed; `status` is the HTTP status (0 when the API could not be reached)."""

    def __init__(self, message: str, status: int = 0):
        self.status = status
        super().__init__(message)


class KatibApi(Protocol):
    namespace: str

    def get_experiment(self, name: str) -> dict[str, Any] | None: ...

    def create_experiment(self, body: dict[str, Any]) -> dict[str, Any]: ...

    def patch_experiment(self, name: str, patch: dict[str, Any]) -> dict[str, Any]: ...

    def list_trials(self, experiment: str) -> list[dict[str, Any]]: ...

    def patch_trial(self, name: str, patch: dict[str, Any]) -> dict[str, Any]: ...

    def get_job(self, name: str) -> dict[str, Any] | None:
        """The trial's batch/v1 Job, else its PyTorchJob, else None."""
        ...

    def patch_job(self, name: str, patch: list[dict[str, Any]], kind: str = "Job") -> dict[str, Any]: ...


class KubernetesKatibApi:
    """The real API: in-cluster config when running in a pod, else the kubeconfig (KUBECONFIG, ~/.kube)."""

    def __init__(self, namespace: str | None = None, context: str | None = None):
        from kubernetes import client, config

        try:
            if os.environ.get("KUBERNETES_SERVICE_HOST") and context is None:
                config.load_incluster_config()
            else:
                config.load_kube_config(context=context)
        except config.ConfigException as exc:
            raise KatibApiError(
                f"no Kubernetes access: {exc} (set KUBECONFIG or run inside the cluster)"
            ) from None
        self.namespace = namespace or _current_namespace(context)
        self._api_client = client.ApiClient()
        self._custom = client.CustomObjectsApi(self._api_client)
        self._batch = client.BatchV1Api(self._api_client)

    def get_experiment(self, name: str) -> dict[str, Any] | None:
        return self._call_or_none(
            self._custom.get_namespaced_custom_object, GROUP, VERSION, self.namespace, "experiments", name
        )

    def create_experiment(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._call(
            self._custom.create_namespaced_custom_object, GROUP, VERSION, self.namespace, "experiments", body
        )

    def patch_experiment(self, name: str, patch: dict[str, Any]) -> dict[str, Any]:
        return self._call(
            self._custom.patch_namespaced_custom_object,
            GROUP,
            VERSION,
            self.namespace,
            "experiments",
            name,
            patch,
        )

    def list_trials(self, experiment: str) -> list[dict[str, Any]]:
        answer = self._call(
            self._custom.list_namespaced_custom_object,
            GROUP,
            VERSION,
            self.namespace,
            "trials",
            label_selector=f"{EXPERIMENT_LABEL}={experiment}",
        )
        return list(answer.get("items", []))

    def patch_trial(self, name: str, patch: dict[str, Any]) -> dict[str, Any]:
        return self._call(
            self._custom.patch_namespaced_custom_object, GROUP, VERSION, self.namespace, "trials", name, patch
        )

    def get_job(self, name: str) -> dict[str, Any] | None:
        job = self._call_or_none(self._batch.read_namespaced_job, name, self.namespace)
        if job is not None:
            return {"kind": "Job", **self._api_client.sanitize_for_serialization(job)}
        return self._call_or_none(
            self._custom.get_namespaced_custom_object,
            GROUP,
            PYTORCHJOB_VERSION,
            self.namespace,
            "pytorchjobs",
            name,
        )

    def patch_job(self, name: str, patch: list[dict[str, Any]], kind: str = "Job") -> dict[str, Any]:
        if kind == "PyTorchJob":
            return self._call(
                self._custom.patch_namespaced_custom_object,
                GROUP,
                PYTORCHJOB_VERSION,
                self.namespace,
                "pytorchjobs",
                name,
                patch,
            )
        job = self._call(self._batch.patch_namespaced_job, name, self.namespace, patch)
        return self._api_client.sanitize_for_serialization(job)

    # --- errors ---------------------------------------------------------------------------------------

    def _call_or_none(self, method: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return self._call(method, *args, **kwargs)
        except KatibApiError as exc:
            if exc.status == 404 and "the server could not find the requested resource" not in str(exc):
                return None
            raise

    def _call(self, method: Any, *args: Any, **kwargs: Any) -> Any:
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        try:
            return method(*args, **kwargs)
        except ApiException as exc:
            raise KatibApiError(_explain(exc, self.namespace), exc.status or 0) from None
        except (HTTPError, OSError) as exc:
            raise KatibApiError(f"cannot reach the Kubernetes API: {exc}") from None


def _explain(exc: Any, namespace: str) -> str:
    import json

    message = exc.reason or ""
    with contextlib.suppress(TypeError, ValueError, AttributeError):
        message = json.loads(exc.body).get("message", message)
    hints = {
        401: "the credentials were refused; log in again or check the kubeconfig",
        403: f"not allowed in namespace {namespace!r}; the service account or user needs the Role in "
        "manifests/rbac.yaml (experiments, trials, jobs)",
        404: "not found; is Katib installed (kubectl get crd experiments.kubeflow.org) and is the namespace right?",
        409: "the object changed meanwhile (or already exists); run the command again",
        422: "rejected by the API or Katib's admission webhook",
    }
    hint = hints.get(exc.status)
    return f"Kubernetes API {exc.status}: {message}" + (f" ({hint})" if hint else "")


def _current_namespace(context: str | None) -> str:
    """The namespace of the pod's service account, else of the kubeconfig context, else `default`."""
    if os.environ.get("KUBERNETES_SERVICE_HOST") and os.path.exists(_NAMESPACE_FILE) and context is None:
        with open(_NAMESPACE_FILE, encoding="utf-8") as fh:
            return fh.read().strip() or "default"
    try:
        from kubernetes import config

        _, active = config.list_kube_config_contexts()
        return (active or {}).get("context", {}).get("namespace") or "default"
    except Exception:
        return "default"
