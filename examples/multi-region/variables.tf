variable "regions" {
  description = "Regions the workloads may move between; the first hosts the control plane."
  type        = list(string)
  default     = ["eu-west-1", "eu-north-1", "us-west-2"]
}

variable "watttime_parameter_arn" {
  description = "ARN of an existing SSM SecureString parameter holding WattTime credentials as JSON with `username` and `password`. Null ranks Regions with average intensity from Electricity Maps or the built-in profiles."
  type        = string
  default     = null
}

variable "ecs_targets" {
  description = "ECS targets per Region: the cluster, the task definition (family ARN with `:*` for every revision) and the roles the task uses."
  type = map(object({
    cluster_arn         = string
    task_definition_arn = string
    role_arns           = list(string)
  }))
  default = {}
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = { Example = "multi-region" }
}
