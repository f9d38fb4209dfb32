{{/* Names. */}}
{{- define "lexdpr.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "lexdpr.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "lexdpr.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "lexdpr.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "lexdpr.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{- define "lexdpr.claimName" -}}
{{- default (printf "%s-workspace" (include "lexdpr.fullname" .)) .Values.workspace.existingClaim }}
{{- end }}

{{- define "lexdpr.configMapName" -}}
{{- printf "%s-config" (include "lexdpr.fullname" .) }}
{{- end }}

{{- define "lexdpr.s3SecretName" -}}
{{- default (printf "%s-s3" (include "lexdpr.fullname" .)) .Values.s3.secretName }}
{{- end }}

{{- define "lexdpr.trialServiceAccount" -}}
{{- printf "%s-trial" (include "lexdpr.fullname" .) }}
{{- end }}

{{- define "lexdpr.agentServiceAccount" -}}
{{- printf "%s-agent" (include "lexdpr.fullname" .) }}
{{- end }}

{{- define "lexdpr.pipelineServiceAccount" -}}
{{- printf "%s-pipeline" (include "lexdpr.fullname" .) }}
{{- end }}

{{- define "lexdpr.experimentName" -}}
{{- default (printf "%s-sweep" (include "lexdpr.fullname" . | trunc 34 | trimSuffix "-")) .Values.katib.experiment.name }}
{{- end }}

{{/* The non-root pod security context shared by every pod of the chart (the image runs as uid 1000). */}}
{{- define "lexdpr.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 1000
runAsGroup: 1000
fsGroup: 1000
fsGroupChangePolicy: OnRootMismatch
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "lexdpr.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop:
    - ALL
{{- end }}

{{/*
The search space: values.katib.experiment.searchSpace, or the preset's (files/search-space.yaml, written by
`python -m lexdpr.kube.manifests` from the same code that writes files/experiment.yaml).
*/}}
{{- define "lexdpr.searchSpace" -}}
{{- if .Values.katib.experiment.searchSpace }}
{{- toYaml .Values.katib.experiment.searchSpace }}
{{- else }}
{{- .Files.Get "files/search-space.yaml" }}
{{- end }}
{{- end }}

{{/* The trial image: the `-cuda` variant of the image when trials request GPUs (lexdpr.images). */}}
{{- define "lexdpr.trialImage" -}}
{{- include "lexdpr.image" . }}{{ if gt (int .Values.katib.trial.gpus) 0 }}-cuda{{ end }}
{{- end }}

{{/* The training container's resources: values.katib.trial.resources plus the GPUs in requests and limits. */}}
{{- define "lexdpr.trialResources" -}}
{{- $resources := deepCopy .Values.katib.trial.resources }}
{{- if gt (int .Values.katib.trial.gpus) 0 }}
{{- $requests := default dict $resources.requests }}
{{- $limits := default dict $resources.limits }}
{{- $_ := set $requests .Values.katib.trial.gpuResource (int .Values.katib.trial.gpus) }}
{{- $_ := set $limits .Values.katib.trial.gpuResource (int .Values.katib.trial.gpus) }}
{{- $_ := set $resources "requests" $requests }}
{{- $_ := set $resources "limits" $limits }}
{{- end }}
{{- toYaml $resources }}
{{- end }}

{{/*
The Experiment. Its whole structure — the trial Job, its command `lex-dpr sweep trial`, the podFailurePolicy,
the metrics collector — is files/experiment.yaml, which `python -m lexdpr.kube.manifests` writes with
lexdpr.kube.experiment.build_experiment (the renderer behind `lex-dpr sweep --backend katib` and
manifests/katib-experiment.yaml). Only deployment values are set here, each at its place in that structure.
*/}}
{{- define "lexdpr.experiment" -}}
{{- $e := .Values.katib.experiment }}
{{- $t := .Values.katib.trial }}
{{- $nodes := int (default 1 $t.nodes) }}
{{- $distributed := gt $nodes 1 }}
{{- $exp := .Files.Get (ternary "files/experiment-pytorchjob.yaml" "files/experiment.yaml" $distributed) | fromYaml }}
{{- $preset := .Files.Get "files/search-space.yaml" | fromYaml }}
{{- $space := include "lexdpr.searchSpace" . | fromYaml }}
{{- $name := include "lexdpr.experimentName" . }}
{{- $max := int $e.maxTrialCount }}
{{- if gt (int $e.parallelTrialCount) $max }}
{{- fail (printf "katib.experiment.parallelTrialCount (%d) must not exceed katib.experiment.maxTrialCount (%d): Katib refuses such an Experiment" (int $e.parallelTrialCount) $max) }}
{{- end }}
{{- if gt (int $e.maxFailedTrialCount) $max }}
{{- fail (printf "katib.experiment.maxFailedTrialCount (%d) must not exceed katib.experiment.maxTrialCount (%d): Katib refuses such an Experiment" (int $e.maxFailedTrialCount) $max) }}
{{- end }}
{{- /* metadata */}}
{{- $meta := $exp.metadata }}
{{- $_ := set $meta "name" $name }}
{{- $_ := set $meta "namespace" .Release.Namespace }}
{{- $_ := set $meta "labels" (merge (dict "app.kubernetes.io/component" "sweep") (include "lexdpr.labels" . | fromYaml)) }}
{{- $annotations := merge (dict) (default dict $e.annotations) }}
{{- $annotations = merge $annotations $space.annotations }}
{{- $_ := set $annotations "lexdpr.io/max-trial-count" (toString $max) }}
{{- $_ := set $annotations "lexdpr.io/parallel-trial-count" (toString (int $e.parallelTrialCount)) }}
{{- $_ := set $annotations "lexdpr.io/max-failed-trial-count" (toString (int $e.maxFailedTrialCount)) }}
{{- $_ := set $meta "annotations" $annotations }}
{{- /* the search space and the counts */}}
{{- $spec := $exp.spec }}
{{- $_ := set $spec "objective" $space.objective }}
{{- $_ := set $spec "algorithm" $space.algorithm }}
{{- if $space.earlyStopping }}
{{- $_ := set $spec "earlyStopping" $space.earlyStopping }}
{{- else }}
{{- $_ := unset $spec "earlyStopping" }}
{{- end }}
{{- $_ := set $spec "parallelTrialCount" (int $e.parallelTrialCount) }}
{{- $_ := set $spec "maxTrialCount" $max }}
{{- $_ := set $spec "maxFailedTrialCount" (int $e.maxFailedTrialCount) }}
{{- $_ := set $spec "resumePolicy" $e.resumePolicy }}
{{- $_ := set $spec "parameters" $space.parameters }}
{{- $template := $spec.trialTemplate }}
{{- $own := slice $template.trialParameters (len $preset.trialParameters) }}
{{- $_ := set $template "trialParameters" (concat $space.trialParameters $own) }}
{{- /* the trial: a Job, or a PyTorchJob (katib.trial.nodes > 1) with the same pod in each replica */}}
{{- $job := $template.trialSpec }}
{{- $pods := list }}
{{- if $distributed }}
{{- $replicas := $job.spec.pytorchReplicaSpecs }}
{{- $_ := set $replicas.Worker "replicas" (sub $nodes 1) }}
{{- $_ := set $job.spec "nprocPerNode" (toString (max 1 (int $t.gpus))) }}
{{- $_ := set $job.spec.runPolicy "activeDeadlineSeconds" (int $t.activeDeadlineSeconds) }}
{{- $_ := set $job.spec.runPolicy "backoffLimit" (int $t.backoffLimit) }}
{{- $pods = list $replicas.Master.template.spec $replicas.Worker.template.spec }}
{{- else }}
{{- $_ := set $job.spec "activeDeadlineSeconds" (int $t.activeDeadlineSeconds) }}
{{- $_ := set $job.spec "backoffLimit" (int $t.backoffLimit) }}
{{- $pods = list $job.spec.template.spec }}
{{- end }}
{{- range $pod := $pods }}
{{- $_ := set $pod "serviceAccountName" (include "lexdpr.trialServiceAccount" $) }}
{{- $_ := set $pod "terminationGracePeriodSeconds" (int $t.terminationGracePeriodSeconds) }}
{{- with $.Values.imagePullSecrets }}
{{- $_ := set $pod "imagePullSecrets" . }}
{{- end }}
{{- with $t.nodeSelector }}
{{- $_ := set $pod "nodeSelector" . }}
{{- end }}
{{- with $t.tolerations }}
{{- $_ := set $pod "tolerations" . }}
{{- end }}
{{- range $pod.volumes }}
{{- if .persistentVolumeClaim }}{{ $_ := set .persistentVolumeClaim "claimName" (include "lexdpr.claimName" $) }}{{ end }}
{{- if .configMap }}{{ $_ := set .configMap "name" (include "lexdpr.configMapName" $) }}{{ end }}
{{- if eq .name "tmp" }}{{ $_ := set .emptyDir "sizeLimit" $t.tmpSize }}{{ end }}
{{- if eq .name "dshm" }}{{ $_ := set .emptyDir "sizeLimit" $t.shmSize }}{{ end }}
{{- end }}
{{- $container := index $pod.containers 0 }}
{{- $_ := set $container "image" (include "lexdpr.trialImage" $) }}
{{- $_ := set $container "imagePullPolicy" $.Values.image.pullPolicy }}
{{- $_ := set $container "resources" (include "lexdpr.trialResources" $ | fromYaml) }}
{{- $fixedArgs := sub (len $container.args) (len $preset.arguments) }}
{{- $_ := set $container "args" (concat (slice $container.args 0 $fixedArgs) $space.arguments) }}
{{- range $container.envFrom }}
{{- $_ := set .secretRef "name" (include "lexdpr.s3SecretName" $) }}
{{- end }}
{{- $env := list }}
{{- range $container.env }}
{{- if eq .name "LEXDPR_EXPERIMENT" }}
{{- $env = append $env (dict "name" .name "value" $name) }}
{{- else }}
{{- $env = append $env . }}
{{- end }}
{{- end }}
{{- if gt (int $t.gpus) 1 }}
{{- $env = append $env (dict "name" "LEXDPR_PROCESSES" "value" (toString (int $t.gpus))) }}
{{- end }}
{{- if $t.hfOffline }}
{{- $env = append $env (dict "name" "HF_HUB_OFFLINE" "value" "1") }}
{{- end }}
{{- with $t.runsS3 }}
{{- $env = append $env (dict "name" "LEXDPR_RUNS_S3" "value" (trimSuffix "/" .)) }}
{{- end }}
{{- range $k, $v := $t.extraEnv }}
{{- $env = append $env (dict "name" $k "value" (toString $v)) }}
{{- end }}
{{- $_ := set $container "env" $env }}
{{- end }}
{{- toYaml $exp }}
{{- end }}
