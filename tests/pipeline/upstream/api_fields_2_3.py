"""The `pipeline_spec.proto` the KFP 2.3.0 API server, Argo compiler and driver are built against, as field tables.

Provenance: kubeflow/pipelines tag 2.3.0, `go.mod` requires
`github.com/kubeflow/pipelines/api v0.0.0-20231027040853-58ce09e07d03`, i.e. `api/v2alpha1/pipeline_spec.proto` at
commit 58ce09e07d031964905020c749e77bf0f37e83d4 ("chore(release): bumped version to 2.0.3", 2023-10-27). The
tables below were generated from that file with protoc (`--descriptor_set_out`, then each message's fields by
their proto JSON name) for every message reachable from `PipelineSpec`, `PlatformSpec` and
`PipelineDeploymentConfig`; nothing was typed by hand. A value is a scalar type (`string`, `int64`, `double`, …),
`json` (google.protobuf.Struct/Value/ListValue: any JSON), `duration`, `enum:<Enum>`, another message of the
table, with `repeated:` or `map:` (string keys) in front where the field is one.

For comparison (not used here): the proto 2.4.0/2.4.1 pin (api @ 873e9dedd766, 2025-01-02) adds
`ResourceSpec.resourceCpuLimit/resourceMemoryLimit/resourceCpuRequest/resourceMemoryRequest`,
`AcceleratorConfig.resourceType/resourceCount`, `CachingOptions.cacheKey`, `PlatformSpec.singlePlatformSpecs`
and `SinglePlatformSpec.platform/config/pipelineConfig`; everything else is the same.
"""

from __future__ import annotations

from types import MappingProxyType

API_COMMIT = "58ce09e07d031964905020c749e77bf0f37e83d4"
PROTO = f"api/v2alpha1/pipeline_spec.proto @ {API_COMMIT[:12]} (pinned in go.mod of 2.3.0)"

_MESSAGES = {
    "ArtifactIteratorSpec": {
        "items": "ArtifactIteratorSpec.ItemsSpec",
        "itemInput": "string",
    },
    "ArtifactIteratorSpec.ItemsSpec": {
        "inputArtifact": "string",
    },
    "ArtifactTypeSchema": {
        "schemaTitle": "string",
        "schemaUri": "string",
        "instanceSchema": "string",
        "schemaVersion": "string",
    },
    "ComponentInputsSpec": {
        "artifacts": "map:ComponentInputsSpec.ArtifactSpec",
        "parameters": "map:ComponentInputsSpec.ParameterSpec",
    },
    "ComponentInputsSpec.ArtifactSpec": {
        "artifactType": "ArtifactTypeSchema",
        "isArtifactList": "bool",
        "isOptional": "bool",
        "description": "string",
    },
    "ComponentInputsSpec.ParameterSpec": {
        "type": "enum:PrimitiveType.PrimitiveTypeEnum",
        "parameterType": "enum:ParameterType.ParameterTypeEnum",
        "defaultValue": "json",
        "isOptional": "bool",
        "description": "string",
    },
    "ComponentOutputsSpec": {
        "artifacts": "map:ComponentOutputsSpec.ArtifactSpec",
        "parameters": "map:ComponentOutputsSpec.ParameterSpec",
    },
    "ComponentOutputsSpec.ArtifactSpec": {
        "artifactType": "ArtifactTypeSchema",
        "properties": "map:ValueOrRuntimeParameter",
        "customProperties": "map:ValueOrRuntimeParameter",
        "metadata": "json",
        "isArtifactList": "bool",
        "description": "string",
    },
    "ComponentOutputsSpec.ParameterSpec": {
        "type": "enum:PrimitiveType.PrimitiveTypeEnum",
        "parameterType": "enum:ParameterType.ParameterTypeEnum",
        "description": "string",
    },
    "ComponentRef": {
        "name": "string",
    },
    "ComponentSpec": {
        "inputDefinitions": "ComponentInputsSpec",
        "outputDefinitions": "ComponentOutputsSpec",
        "dag": "DagSpec",
        "executorLabel": "string",
    },
    "DagOutputsSpec": {
        "artifacts": "map:DagOutputsSpec.DagOutputArtifactSpec",
        "parameters": "map:DagOutputsSpec.DagOutputParameterSpec",
    },
    "DagOutputsSpec.ArtifactSelectorSpec": {
        "producerSubtask": "string",
        "outputArtifactKey": "string",
    },
    "DagOutputsSpec.DagOutputArtifactSpec": {
        "artifactSelectors": "repeated:DagOutputsSpec.ArtifactSelectorSpec",
    },
    "DagOutputsSpec.DagOutputParameterSpec": {
        "valueFromParameter": "DagOutputsSpec.ParameterSelectorSpec",
        "valueFromOneof": "DagOutputsSpec.ParameterSelectorsSpec",
    },
    "DagOutputsSpec.ParameterSelectorSpec": {
        "producerSubtask": "string",
        "outputParameterKey": "string",
    },
    "DagOutputsSpec.ParameterSelectorsSpec": {
        "parameterSelectors": "repeated:DagOutputsSpec.ParameterSelectorSpec",
    },
    "DagSpec": {
        "tasks": "map:PipelineTaskSpec",
        "outputs": "DagOutputsSpec",
    },
    "ParameterIteratorSpec": {
        "items": "ParameterIteratorSpec.ItemsSpec",
        "itemInput": "string",
    },
    "ParameterIteratorSpec.ItemsSpec": {
        "raw": "string",
        "inputParameter": "string",
    },
    "PipelineDeploymentConfig": {
        "executors": "map:PipelineDeploymentConfig.ExecutorSpec",
    },
    "PipelineDeploymentConfig.AIPlatformCustomJobSpec": {
        "customJob": "json",
    },
    "PipelineDeploymentConfig.ExecutorSpec": {
        "container": "PipelineDeploymentConfig.PipelineContainerSpec",
        "importer": "PipelineDeploymentConfig.ImporterSpec",
        "resolver": "PipelineDeploymentConfig.ResolverSpec",
        "customJob": "PipelineDeploymentConfig.AIPlatformCustomJobSpec",
    },
    "PipelineDeploymentConfig.ImporterSpec": {
        "artifactUri": "ValueOrRuntimeParameter",
        "typeSchema": "ArtifactTypeSchema",
        "properties": "map:ValueOrRuntimeParameter",
        "customProperties": "map:ValueOrRuntimeParameter",
        "metadata": "json",
        "reimport": "bool",
    },
    "PipelineDeploymentConfig.PipelineContainerSpec": {
        "image": "string",
        "command": "repeated:string",
        "args": "repeated:string",
        "lifecycle": "PipelineDeploymentConfig.PipelineContainerSpec.Lifecycle",
        "resources": "PipelineDeploymentConfig.PipelineContainerSpec.ResourceSpec",
        "env": "repeated:PipelineDeploymentConfig.PipelineContainerSpec.EnvVar",
    },
    "PipelineDeploymentConfig.PipelineContainerSpec.EnvVar": {
        "name": "string",
        "value": "string",
    },
    "PipelineDeploymentConfig.PipelineContainerSpec.Lifecycle": {
        "preCacheCheck": "PipelineDeploymentConfig.PipelineContainerSpec.Lifecycle.Exec",
    },
    "PipelineDeploymentConfig.PipelineContainerSpec.Lifecycle.Exec": {
        "command": "repeated:string",
        "args": "repeated:string",
    },
    "PipelineDeploymentConfig.PipelineContainerSpec.ResourceSpec": {
        "cpuLimit": "double",
        "memoryLimit": "double",
        "cpuRequest": "double",
        "memoryRequest": "double",
        "accelerator": "PipelineDeploymentConfig.PipelineContainerSpec.ResourceSpec.AcceleratorConfig",
    },
    "PipelineDeploymentConfig.PipelineContainerSpec.ResourceSpec.AcceleratorConfig": {
        "type": "string",
        "count": "int64",
    },
    "PipelineDeploymentConfig.ResolverSpec": {
        "outputArtifactQueries": "map:PipelineDeploymentConfig.ResolverSpec.ArtifactQuerySpec",
    },
    "PipelineDeploymentConfig.ResolverSpec.ArtifactQuerySpec": {
        "filter": "string",
        "limit": "int32",
    },
    "PipelineInfo": {
        "name": "string",
        "displayName": "string",
        "description": "string",
    },
    "PipelineSpec": {
        "pipelineInfo": "PipelineInfo",
        "deploymentSpec": "json",
        "sdkVersion": "string",
        "schemaVersion": "string",
        "components": "map:ComponentSpec",
        "root": "ComponentSpec",
        "defaultPipelineRoot": "string",
    },
    "PipelineTaskInfo": {
        "name": "string",
    },
    "PipelineTaskSpec": {
        "taskInfo": "PipelineTaskInfo",
        "inputs": "TaskInputsSpec",
        "dependentTasks": "repeated:string",
        "cachingOptions": "PipelineTaskSpec.CachingOptions",
        "componentRef": "ComponentRef",
        "triggerPolicy": "PipelineTaskSpec.TriggerPolicy",
        "artifactIterator": "ArtifactIteratorSpec",
        "parameterIterator": "ParameterIteratorSpec",
        "retryPolicy": "PipelineTaskSpec.RetryPolicy",
        "iteratorPolicy": "PipelineTaskSpec.IteratorPolicy",
    },
    "PipelineTaskSpec.CachingOptions": {
        "enableCache": "bool",
    },
    "PipelineTaskSpec.IteratorPolicy": {
        "parallelismLimit": "int32",
    },
    "PipelineTaskSpec.RetryPolicy": {
        "maxRetryCount": "int32",
        "backoffDuration": "duration",
        "backoffFactor": "double",
        "backoffMaxDuration": "duration",
    },
    "PipelineTaskSpec.TriggerPolicy": {
        "condition": "string",
        "strategy": "enum:PipelineTaskSpec.TriggerPolicy.TriggerStrategy",
    },
    "PlatformDeploymentConfig": {
        "executors": "map:json",
    },
    "PlatformSpec": {
        "platforms": "map:SinglePlatformSpec",
    },
    "SinglePlatformSpec": {
        "deploymentSpec": "PlatformDeploymentConfig",
    },
    "TaskInputsSpec": {
        "parameters": "map:TaskInputsSpec.InputParameterSpec",
        "artifacts": "map:TaskInputsSpec.InputArtifactSpec",
    },
    "TaskInputsSpec.InputArtifactSpec": {
        "taskOutputArtifact": "TaskInputsSpec.InputArtifactSpec.TaskOutputArtifactSpec",
        "componentInputArtifact": "string",
    },
    "TaskInputsSpec.InputArtifactSpec.TaskOutputArtifactSpec": {
        "producerTask": "string",
        "outputArtifactKey": "string",
    },
    "TaskInputsSpec.InputParameterSpec": {
        "taskOutputParameter": "TaskInputsSpec.InputParameterSpec.TaskOutputParameterSpec",
        "runtimeValue": "ValueOrRuntimeParameter",
        "componentInputParameter": "string",
        "taskFinalStatus": "TaskInputsSpec.InputParameterSpec.TaskFinalStatus",
        "parameterExpressionSelector": "string",
    },
    "TaskInputsSpec.InputParameterSpec.TaskFinalStatus": {
        "producerTask": "string",
    },
    "TaskInputsSpec.InputParameterSpec.TaskOutputParameterSpec": {
        "producerTask": "string",
        "outputParameterKey": "string",
    },
    "Value": {
        "intValue": "int64",
        "doubleValue": "double",
        "stringValue": "string",
    },
    "ValueOrRuntimeParameter": {
        "constantValue": "Value",
        "runtimeParameter": "string",
        "constant": "json",
    },
}
_ENUMS = {
    "ParameterType.ParameterTypeEnum": (
        "PARAMETER_TYPE_ENUM_UNSPECIFIED",
        "NUMBER_DOUBLE",
        "NUMBER_INTEGER",
        "STRING",
        "BOOLEAN",
        "LIST",
        "STRUCT",
        "TASK_FINAL_STATUS",
    ),
    "PipelineTaskSpec.TriggerPolicy.TriggerStrategy": (
        "TRIGGER_STRATEGY_UNSPECIFIED",
        "ALL_UPSTREAM_TASKS_SUCCEEDED",
        "ALL_UPSTREAM_TASKS_COMPLETED",
    ),
    "PrimitiveType.PrimitiveTypeEnum": ("PRIMITIVE_TYPE_UNSPECIFIED", "INT", "DOUBLE", "STRING"),
}

#: Message (without the `ml_pipelines.` package) → field JSON name → type.
MESSAGES: MappingProxyType[str, dict[str, str]] = MappingProxyType(_MESSAGES)
#: Enum → its value names.
ENUMS: MappingProxyType[str, tuple[str, ...]] = MappingProxyType(_ENUMS)
