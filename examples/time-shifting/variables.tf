variable "region" {
  description = "The one Region where workloads run; the control plane lives there too."
  type        = string
  default     = "eu-west-2"
}

variable "electricitymaps_secret_arn" {
  description = "ARN of an existing Secrets Manager secret holding an Electricity Maps API key. Null uses UK NESO (free, GB only) and the built-in profiles."
  type        = string
  default     = null
}

variable "target_lambda_arns" {
  description = "Lambda functions the executor may invoke at the chosen time."
  type        = list(string)
  default     = []
}

variable "target_role_names" {
  description = "Names of the target functions' execution roles; each may then send the functions' invocation results (destinations) to the runner event bus."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = { Example = "time-shifting" }
}
