variable "regions" {
  description = "Regions of the fleet; the first hosts the control plane."
  type        = list(string)
  default     = ["eu-west-1", "eu-west-2", "eu-central-1"]
}

variable "networks" {
  description = "Subnets and security groups of the fleet's instances, keyed by Region (one entry per Region of `regions`)."
  type = map(object({
    subnet_ids         = list(string)
    security_group_ids = list(string)
  }))
}

variable "instance_profile_arn" {
  description = "Instance profile of the fleet's instances; it needs autoscaling:DescribeAutoScalingInstances and autoscaling:CompleteLifecycleAction for the user data to end the launch hook. Null launches without one (the hook then times out after 3 minutes)."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = { Example = "spot-fleet" }
}
