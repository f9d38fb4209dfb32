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
The search space: values.katib.experiment.searchSpace, or the preset generated from the sweep preset
(files/search-space.yaml, by `python -m lexdpr.kube.manifests`).
*/}}
{{- define "lexdpr.searchSpace" -}}
{{- if .Values.katib.experiment.searchSpace }}
{{- toYaml .Values.katib.experiment.searchSpace }}
{{- else }}
{{- .Files.Get "files/search-space.yaml" }}
{{- end }}
{{- end }}

{{/*
The trial's `sh -c` script: `lex-dpr train` in the background with SIGTERM forwarded, so a preempted or
suspended pod saves a checkpoint (Katib wraps the command in its own `sh -c`, which does not pass signals on).
Must stay identical to lexdpr.kube.trial_job.train_script (tests/kube/test_chart.py compares them).
*/}}
{{- define "lexdpr.trialScript" -}}
{{- $space := include "lexdpr.searchSpace" . | fromYaml }}
{{- $name := include "lexdpr.experimentName" . }}
{{- $words := list "lex-dpr train" }}
{{- range .Values.katib.trial.trainFlags }}
{{- $words = append $words . }}
{{- end }}
{{- $words = append $words "--config /etc/lexdpr/config.yaml" }}
{{- range $space.arguments }}
{{- $words = append $words . }}
{{- end }}
{{- $words = append $words (printf "out_dir=sweeps/%s/${trialParameters.trialName}" $name) }}
{{- $words = append $words (printf "run_dir=sweeps/%s/${trialParameters.trialName}/wandb" $name) }}
{{- $words = append $words (printf "sweep_id=%s" $name) }}
{{- $upload := printf "python3 -m lexdpr.kube.upload sweeps/%s/${trialParameters.trialName}/wandb \"$LEXDPR_RUNS_S3/%s/${trialParameters.trialName}/wandb\"" $name $name }}
{{- printf "{\n  trap 'kill -TERM $pid 2>/dev/null' TERM INT\n  %s &\n  pid=$!\n  wait $pid; rc=$?\n  while kill -0 $pid 2>/dev/null; do wait $pid; rc=$?; done\n  if [ -n \"${LEXDPR_RUNS_S3:-}\" ]; then\n    %s\n  fi\n  (exit $rc)\n}" (join " \\\n    " $words) $upload }}
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

{{/* The Experiment (lexdpr.kube.experiment.build_experiment with the chart's values). */}}
{{- define "lexdpr.experiment" -}}
{{- $space := include "lexdpr.searchSpace" . | fromYaml }}
{{- $e := .Values.katib.experiment }}
{{- $t := .Values.katib.trial }}
{{- $max := int $e.maxTrialCount }}
apiVersion: kubeflow.org/v1beta1
kind: Experiment
metadata:
  name: {{ include "lexdpr.experimentName" . }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "lexdpr.labels" . | nindent 4 }}
    app.kubernetes.io/component: sweep
  annotations:
    {{- with $e.annotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
    {{- toYaml $space.annotations | nindent 4 }}
    lexdpr.io/max-trial-count: {{ $max | quote }}
    lexdpr.io/parallel-trial-count: {{ int $e.parallelTrialCount | quote }}
    lexdpr.io/max-failed-trial-count: {{ int $e.maxFailedTrialCount | quote }}
spec:
  objective:
    {{- toYaml $space.objective | nindent 4 }}
  algorithm:
    {{- toYaml $space.algorithm | nindent 4 }}
  {{- with $space.earlyStopping }}
  earlyStopping:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  parallelTrialCount: {{ min (int $e.parallelTrialCount) $max }}
  maxTrialCount: {{ $max }}
  maxFailedTrialCount: {{ min (int $e.maxFailedTrialCount) $max }}
  resumePolicy: {{ $e.resumePolicy }}
  metricsCollectorSpec:
    collector:
      kind: StdOut
    source:
      filter:
        metricsFormat:
          - {{ `([\w|/-]+)\s*=\s*([+-]?\d*(\.\d+)?([Ee][+-]?\d+)?)` | quote }}
  parameters:
    {{- toYaml $space.parameters | nindent 4 }}
  trialTemplate:
    primaryContainerName: training-container
    successCondition: {{ `status.conditions.#(type=="Complete")#|#(status=="True")#` | quote }}
    failureCondition: {{ `status.conditions.#(type=="Failed")#|#(status=="True")#` | quote }}
    retain: false
    trialParameters:
      {{- with $space.trialParameters }}
      {{- toYaml . | nindent 6 }}
      {{- end }}
      - name: trialName
        description: "the Trial's name: its folder on the PVC, so a restarted pod resumes"
        reference: ${trialSpec.Name}
    trialSpec:
      apiVersion: batch/v1
      kind: Job
      metadata:
        labels:
          app.kubernetes.io/name: lexdpr
          app.kubernetes.io/component: trial
      spec:
        activeDeadlineSeconds: {{ int $t.activeDeadlineSeconds }}
        backoffLimit: {{ int $t.backoffLimit }}
        podFailurePolicy:
          rules:
            # Preempted, evicted, node drained: not the trial's fault; the next pod resumes from its checkpoint.
            - action: Ignore
              onPodConditions:
                - type: DisruptionTarget
                  status: "True"
            # 1 = an exception (e.g. CUDA out of memory), 2 = a config error or a diverged loss: retrying won't help.
            - action: FailJob
              onPodConditions: []
              onExitCodes:
                containerName: training-container
                operator: In
                values: [1, 2]
        template:
          metadata:
            labels:
              app.kubernetes.io/name: lexdpr
              app.kubernetes.io/component: trial
            annotations:
              sidecar.istio.io/inject: "false"
          spec:
            restartPolicy: Never
            serviceAccountName: {{ include "lexdpr.trialServiceAccount" . }}
            automountServiceAccountToken: false
            terminationGracePeriodSeconds: {{ int $t.terminationGracePeriodSeconds }}
            securityContext:
              {{- include "lexdpr.podSecurityContext" . | nindent 14 }}
            {{- with .Values.imagePullSecrets }}
            imagePullSecrets:
              {{- toYaml . | nindent 14 }}
            {{- end }}
            {{- with $t.nodeSelector }}
            nodeSelector:
              {{- toYaml . | nindent 14 }}
            {{- end }}
            {{- with $t.tolerations }}
            tolerations:
              {{- toYaml . | nindent 14 }}
            {{- end }}
            containers:
              - name: training-container
                image: {{ include "lexdpr.image" . }}
                imagePullPolicy: {{ .Values.image.pullPolicy }}
                workingDir: /workspace
                command: [sh, -c]
                args:
                  - |-
                    {{- include "lexdpr.trialScript" . | nindent 20 }}
                env:
                  - {name: HOME, value: /tmp}
                  - {name: TMPDIR, value: /tmp}
                  - {name: XDG_CACHE_HOME, value: /tmp/.cache}
                  - {name: MPLCONFIGDIR, value: /tmp/.config/matplotlib}
                  - {name: HF_HOME, value: /workspace/.cache/huggingface}
                  - {name: LEXDPR_MODEL_CACHE, value: /workspace/.cache/lexdpr/models}
                  - {name: TOKENIZERS_PARALLELISM, value: "false"}
                  - {name: PYTHONUNBUFFERED, value: "1"}
                  - {name: WANDB_MODE, value: offline}
                  - {name: WANDB_CACHE_DIR, value: /tmp/.cache/wandb}
                  - {name: WANDB_CONFIG_DIR, value: /tmp/.config/wandb}
                  - {name: WANDB_DATA_DIR, value: /tmp/.cache/wandb-data}
                  {{- if $t.hfOffline }}
                  - {name: HF_HUB_OFFLINE, value: "1"}
                  {{- end }}
                  {{- with $t.runsS3 }}
                  - {name: LEXDPR_RUNS_S3, value: {{ trimSuffix "/" . | quote }}}
                  {{- end }}
                  {{- range $k, $v := $t.extraEnv }}
                  - name: {{ $k }}
                    value: {{ $v | quote }}
                  {{- end }}
                resources:
                  {{- include "lexdpr.trialResources" . | nindent 18 }}
                securityContext:
                  {{- include "lexdpr.containerSecurityContext" . | nindent 18 }}
                volumeMounts:
                  - {name: workspace, mountPath: /workspace}
                  - {name: config, mountPath: /etc/lexdpr, readOnly: true}
                  - {name: tmp, mountPath: /tmp}
                  - {name: dshm, mountPath: /dev/shm}
                envFrom:
                  - secretRef:
                      name: {{ include "lexdpr.s3SecretName" . }}
                      optional: true
            volumes:
              - name: workspace
                persistentVolumeClaim:
                  claimName: {{ include "lexdpr.claimName" . }}
              - name: config
                configMap:
                  name: {{ include "lexdpr.configMapName" . }}
              - name: tmp
                emptyDir:
                  sizeLimit: {{ $t.tmpSize }}
              - name: dshm
                emptyDir:
                  medium: Memory
                  sizeLimit: {{ $t.shmSize }}
{{- end }}
