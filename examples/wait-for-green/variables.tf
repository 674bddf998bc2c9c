variable "region" {
  description = "Region of the state machine and the control plane; must be one of `regions`."
  type        = string
  default     = "eu-west-1"
}

variable "regions" {
  description = "Regions the work may run in; the decision names one of them."
  type        = list(string)
  default     = ["eu-west-1", "eu-north-1"]
}

variable "work_function_arn" {
  description = "Lambda function that does the work once the green window opens; it gets the chosen `region`."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:lambda:[a-z0-9-]+:[0-9]{12}:function:.+$", var.work_function_arn))
    error_message = "work_function_arn must be a Lambda function ARN."
  }
}

variable "window_hours" {
  description = "How long after the execution starts the work must be done (the submission's deadline)."
  type        = number
  default     = 8

  validation {
    condition     = var.window_hours >= 1 && var.window_hours <= 72
    error_message = "window_hours must be between 1 and 72."
  }
}

variable "duration_minutes" {
  description = "How long the work step runs, in minutes: the window is chosen for this duration."
  type        = number
  default     = 60

  validation {
    condition     = var.duration_minutes > 0 && var.duration_minutes < var.window_hours * 60
    error_message = "duration_minutes must be positive and shorter than window_hours."
  }
}

variable "vcpus" {
  description = "vCPUs of the work, for its power estimate."
  type        = number
  default     = 4
}

variable "memory_gb" {
  description = "Memory of the work in GB, for its power estimate."
  type        = number
  default     = 16
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = { Example = "wait-for-green" }
}
