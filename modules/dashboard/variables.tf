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

variable "slo_targets" {
  description = "SLO targets (fractions) whose error budgets the dashboard shows: dispatch_availability (due work dispatched within its window) and carbon_efficiency (realised saving / perfect-forecast saving)."
  type = object({
    dispatch_availability = optional(number, 0.999)
    carbon_efficiency     = optional(number, 0.6)
  })
  default = {}

  validation {
    condition     = alltrue([for v in values(var.slo_targets) : v > 0 && v < 1])
    error_message = "slo_targets values must be between 0 and 1 (exclusive)."
  }
}
