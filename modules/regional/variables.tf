variable "create" {
  description = "Whether to create this Region's stack."
  type        = bool
  default     = true
}

variable "region" {
  description = "AWS Region of this stack (AWS provider 6 per-resource `region`)."
  type        = string
}

variable "name" {
  description = "Name prefix of the stack's resources."
  type        = string
}

variable "control_event_bus_arn" {
  description = "ARN of the control plane's event bus (home Region) that receives this Region's target state changes."
  type        = string
}

variable "event_forwarder_role_arn" {
  description = "ARN of the IAM role EventBridge assumes to put events on the control event bus."
  type        = string
}

variable "target_state_event_pattern" {
  description = "EventBridge pattern (JSON) of the target state changes forwarded to the control plane."
  type        = string
}

variable "create_runner_event_bus" {
  description = "Whether to create an event bus that custom runners in this Region subscribe to (the executor's `events` target)."
  type        = bool
  default     = true
}

variable "kms_key_arn" {
  description = "Customer managed KMS key (in this Region) of the runner event bus; null uses the AWS owned key."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
