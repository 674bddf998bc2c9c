variable "regions" {
  description = "Regions the job's segments may run in; the first hosts the control plane."
  type        = list(string)
  default     = ["eu-west-1", "eu-north-1"]

  validation {
    condition     = length(var.regions) > 0 && length(distinct(var.regions)) == length(var.regions)
    error_message = "regions must list at least one Region, each once."
  }
}

variable "networks" {
  description = "Per Region, the subnets and security groups of the job's tasks (awsvpc). Every Region of `regions` needs one."
  type = map(object({
    subnet_ids         = list(string)
    security_group_ids = list(string)
  }))

  validation {
    condition     = alltrue([for r in var.regions : length(try(var.networks[r].subnet_ids, [])) > 0])
    error_message = "networks: every Region of regions needs an entry with at least one subnet."
  }
}

variable "image" {
  description = "The job's container image (built from this example's Dockerfile); `{region}` is replaced with each Region, for a per-Region ECR repository."
  type        = string

  validation {
    condition     = length(trimspace(var.image)) > 0
    error_message = "image must name a container image."
  }
}

variable "steps" {
  description = "Steps in the job's hash chain (its length of work)."
  type        = number
  default     = 20000000

  validation {
    condition     = var.steps >= 1 && floor(var.steps) == var.steps
    error_message = "steps must be a positive whole number."
  }
}

variable "checkpoint_interval_seconds" {
  description = "Seconds between the job's periodic checkpoints: the most work a kill without warning loses."
  type        = number
  default     = 60

  validation {
    condition     = var.checkpoint_interval_seconds >= 1
    error_message = "checkpoint_interval_seconds must be at least 1."
  }
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = { Example = "checkpointing-job" }
}
