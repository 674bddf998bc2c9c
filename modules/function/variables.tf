variable "create" {
  description = "Whether to create the function and everything it owns (role, policy, log group)."
  type        = bool
  default     = true
}

variable "region" {
  description = "AWS Region of the function and its log group (AWS provider 6 per-resource `region`); null uses the provider's Region."
  type        = string
  default     = null
}

variable "function_name" {
  description = "Name of the Lambda function; also the name of its IAM role and the suffix of its log group."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9_-]{1,64}$", var.function_name))
    error_message = "function_name must be 1-64 letters, digits, hyphens or underscores."
  }
}

variable "description" {
  description = "Description of the Lambda function."
  type        = string
  default     = ""
}

variable "handler" {
  description = "Python handler, `module.function`."
  type        = string
}

variable "runtime" {
  description = "Lambda runtime identifier."
  type        = string
  default     = "python3.13"
}

variable "architecture" {
  description = "Instruction set of the function: `arm64` or `x86_64`. Must match the bundle."
  type        = string
  default     = "arm64"

  validation {
    condition     = contains(["arm64", "x86_64"], var.architecture)
    error_message = "architecture must be arm64 or x86_64."
  }
}

variable "filename" {
  description = "Path of the deployment package (zip); null when the package comes from S3 (s3_bucket, s3_key)."
  type        = string
  default     = null
}

variable "source_code_hash" {
  description = "Base64 SHA-256 of the local deployment package; a change triggers a code update."
  type        = string
  default     = null
}

variable "s3_bucket" {
  description = "S3 bucket of the deployment package (same Region as the function), instead of filename."
  type        = string
  default     = null
}

variable "s3_key" {
  description = "S3 key of the deployment package; used with s3_bucket."
  type        = string
  default     = null
}

variable "s3_object_version" {
  description = "Version of the S3 object of the deployment package; null takes the latest."
  type        = string
  default     = null
}

variable "code_signing_config_arn" {
  description = "ARN of a Lambda code signing configuration for the function; null deploys unsigned code."
  type        = string
  default     = null
}

variable "tracing_enabled" {
  description = "Whether the function sends X-Ray traces: active tracing and the X-Ray grant on its role."
  type        = bool
  default     = false
}

variable "create_role" {
  description = "Whether to create the function's IAM role and attach its policy. When false, role_arn is used as it is: nothing is attached to it, so it must already allow everything the policy_json output lists."
  type        = bool
  default     = true
}

variable "role_arn" {
  description = "ARN of an existing IAM role for the function, used when create_role is false."
  type        = string
  default     = null
}

variable "role_path" {
  description = "Path of the created IAM role."
  type        = string
  default     = "/"

  validation {
    condition     = can(regex("^/([\\x21-\\x7E]+/)?$", var.role_path))
    error_message = "role_path must start and end with / (e.g. /service/)."
  }
}

variable "role_permissions_boundary" {
  description = "ARN of the managed policy that is the permissions boundary of the created IAM role; null sets none."
  type        = string
  default     = null
}

variable "memory_size" {
  description = "Memory in MB."
  type        = number
  default     = 256
}

variable "timeout" {
  description = "Timeout in seconds."
  type        = number
  default     = 60
}

variable "reserved_concurrent_executions" {
  description = "Reserved concurrency; -1 leaves the function unreserved."
  type        = number
  default     = -1
}

variable "environment_variables" {
  description = "Environment variables of the function. Never put secrets here: pass secret ARNs or parameter names."
  type        = map(string)
  default     = {}
}

variable "policy_statements" {
  description = "IAM policy statements (Effect, Action, Resource, optional Condition) granted to the function's role in addition to its logs, tracing, VPC, KMS and dead-letter permissions."
  type        = any
  default     = []
}

variable "log_retention_in_days" {
  description = "Retention of the function's CloudWatch log group."
  type        = number
  default     = 30
}

variable "kms_key_arn" {
  description = "Customer managed KMS key for the log group, the environment variables and the dead-letter queue; null uses AWS managed keys."
  type        = string
  default     = null
}

variable "vpc_config" {
  description = "Subnets and security groups to attach the function to a VPC; null runs it outside any VPC."
  type = object({
    subnet_ids         = list(string)
    security_group_ids = list(string)
  })
  default = null
}

variable "event_source_queue_arns" {
  description = "SQS queue ARNs the function's event source mappings poll; Lambda polls them with the function's role."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.event_source_queue_arns : can(regex("^arn:[a-z0-9-]+:sqs:", a))])
    error_message = "event_source_queue_arns must be SQS queue ARNs."
  }
}

variable "event_source_stream_arns" {
  description = "DynamoDB stream ARNs (or `<table ARN>/stream/*`) the function's event source mappings read; Lambda reads them with the function's role."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.event_source_stream_arns : can(regex("/stream/.+$", a))])
    error_message = "event_source_stream_arns must be DynamoDB stream ARNs (…:table/<name>/stream/<label or *>)."
  }
}

variable "attach_dead_letter_queue" {
  description = "Whether failed asynchronous invocations go to dead_letter_target_arn (a flag, because the ARN is unknown until apply)."
  type        = bool
  default     = false
}

variable "dead_letter_target_arn" {
  description = "ARN of the SQS queue that receives failed asynchronous invocations, used when attach_dead_letter_queue is true."
  type        = string
  default     = null
}

variable "dead_letter_queue_name" {
  description = "Name of the dead-letter queue, for its alarm; used when attach_dead_letter_queue is true."
  type        = string
  default     = null
}

variable "maximum_retry_attempts" {
  description = "Retries of a failed asynchronous invocation before it goes to the dead-letter queue (0-2)."
  type        = number
  default     = 2
}

variable "create_alarms" {
  description = "Whether to create CloudWatch alarms on the function's errors and, with a dead-letter queue, on its visible messages."
  type        = bool
  default     = false
}

variable "alarm_actions" {
  description = "ARNs notified when an alarm changes state (e.g. an SNS topic)."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
