variable "create" {
  description = "Whether to create the dashboard."
  type        = bool
  default     = true
}

variable "region" {
  description = "AWS Region of the dashboard and of the metrics it shows."
  type        = string
}

variable "partition" {
  description = "AWS partition of the dashboard (aws, aws-cn, aws-us-gov), for its console URL."
  type        = string
  default     = "aws"
}

variable "dashboard_name" {
  description = "Name of the CloudWatch dashboard."
  type        = string
}

variable "function_names" {
  description = "Lambda functions whose invocations, errors and duration are shown."
  type        = list(string)
  default     = []
}

variable "table_names" {
  description = "DynamoDB tables whose consumed capacity and throttles are shown."
  type        = list(string)
  default     = []
}

variable "queue_names" {
  description = "SQS dead-letter queues whose visible messages are shown."
  type        = list(string)
  default     = []
}

variable "metrics_namespace" {
  description = "CloudWatch namespace of the handlers' own metrics (Powertools EMF)."
  type        = string
  default     = "CarbonAware"
}

variable "dispatch_availability_target" {
  description = "Dispatch availability SLO (fraction of due work dispatched within its window) whose error budget the dashboard shows."
  type        = number
  default     = 0.999

  validation {
    condition     = var.dispatch_availability_target > 0 && var.dispatch_availability_target < 1
    error_message = "dispatch_availability_target must be between 0 and 1 (exclusive)."
  }
}

variable "carbon_efficiency_target" {
  description = "Carbon efficiency SLO (realised saving / perfect-forecast saving) whose error budget the dashboard shows."
  type        = number
  default     = 0.6

  validation {
    condition     = var.carbon_efficiency_target > 0 && var.carbon_efficiency_target < 1
    error_message = "carbon_efficiency_target must be between 0 and 1 (exclusive)."
  }
}
