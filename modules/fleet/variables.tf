################################################################################
# Fleet
################################################################################

variable "create" {
  description = "Whether to create the fleet (a launch template, an Auto Scaling group and a scaling policy per Region)."
  type        = bool
  default     = true
}

variable "name" {
  description = "Name of the fleet's launch templates, Auto Scaling groups (the same in every Region) and the prefix of their scaling policies."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z][a-zA-Z0-9-]{0,63}$", var.name))
    error_message = "name must start with a letter and have at most 64 letters, digits or hyphens."
  }
}

variable "regions" {
  description = "Per Region of the fleet: subnets (at least one) and security groups (at least one) of its instances, an AMI (`image_id`; null resolves `image_ssm_parameter` in that Region), the share of the fleet total held there at least (`min_share`) and at most (`max_share`), each in [0, 1], and the group's on-demand base capacity (`on_demand_base_capacity`, instances before any Spot)."
  type = map(object({
    subnet_ids              = list(string)
    security_group_ids      = list(string)
    image_id                = optional(string)
    min_share               = optional(number, 0)
    max_share               = optional(number, 1)
    on_demand_base_capacity = optional(number, 0)
  }))

  validation {
    condition     = length(var.regions) > 0 && alltrue([for r in keys(var.regions) : can(regex("^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]{1,2}$", r))])
    error_message = "regions must have at least one entry, keyed by AWS Region names such as eu-west-1."
  }

  validation {
    condition     = alltrue([for c in values(var.regions) : length(c.subnet_ids) > 0 && length(c.security_group_ids) > 0])
    error_message = "Every Region in regions needs at least one subnet_ids and one security_group_ids entry."
  }

  validation {
    condition     = alltrue([for c in values(var.regions) : c.image_id == null || can(regex("^ami-[0-9a-f]{8,17}$", c.image_id))])
    error_message = "regions[*].image_id must be an AMI id (ami-...) or null."
  }

  validation {
    condition     = alltrue([for c in values(var.regions) : c.min_share >= 0 && c.max_share <= 1 && c.min_share <= c.max_share])
    error_message = "regions[*].min_share and max_share must be in [0, 1], min_share not above max_share."
  }

  validation {
    condition     = sum(concat([0], [for c in values(var.regions) : c.min_share])) <= 1
    error_message = "The min_share values of all regions must sum to at most 1."
  }

  validation {
    condition     = sum(concat([0], [for c in values(var.regions) : c.max_share])) >= 1
    error_message = "The max_share values of all regions must sum to at least 1, or the fleet total cannot be placed."
  }

  validation {
    condition     = alltrue([for c in values(var.regions) : c.on_demand_base_capacity >= 0 && floor(c.on_demand_base_capacity) == c.on_demand_base_capacity])
    error_message = "regions[*].on_demand_base_capacity must be a whole number, 0 or more."
  }
}

################################################################################
# Instances
################################################################################

variable "architecture" {
  description = "Instruction set of the fleet: `arm64` (Graviton) or `x86_64`. It picks the default AMI parameter, the CPU manufacturers of instance_requirements, and instance_types must match it."
  type        = string
  default     = "arm64"
  nullable    = false

  validation {
    condition     = contains(["arm64", "x86_64"], var.architecture)
    error_message = "architecture must be arm64 or x86_64."
  }
}

variable "instance_types" {
  description = "Instance types of the fleet, in order of preference (at least three distinct, so Spot can choose among pools); empty when instance_requirements is set. Graviton types (m7g, c6gn, ...) for arm64, others for x86_64. The optimizer prices and scores these types."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = length(distinct(var.instance_types)) == length(var.instance_types) && alltrue([for t in var.instance_types : can(regex("^[a-z][a-z0-9-]*\\.[a-z0-9]+$", t))])
    error_message = "instance_types must be distinct instance type names such as m7g.large."
  }

  validation {
    condition     = (length(var.instance_types) >= 3) != (var.instance_requirements != null)
    error_message = "Set either at least three instance_types or instance_requirements (not both)."
  }

  validation {
    condition     = alltrue([for t in var.instance_types : can(regex("^(a1|[a-z]+[0-9]+[a-z]*g[a-z]*)\\.", t)) == (var.architecture == "arm64")])
    error_message = "instance_types must match architecture: Graviton types (a1, m7g, c6gn, ...) for arm64, no Graviton types for x86_64."
  }
}

variable "instance_requirements" {
  description = "Attribute-based instance type selection instead of instance_types: vCPUs and memory (MiB) ranges, instance generations and burstable types (`included`, `excluded`, `required`) among `allowed_instance_types` (at least one exact type name, matching architecture: the optimizer prices and scores these). The CPU manufacturers follow architecture."
  type = object({
    vcpu_min               = number
    vcpu_max               = optional(number)
    memory_mib_min         = number
    memory_mib_max         = optional(number)
    instance_generations   = optional(list(string), ["current"])
    burstable_performance  = optional(string, "excluded")
    allowed_instance_types = list(string)
  })
  default = null

  validation {
    condition = var.instance_requirements == null || try(
      var.instance_requirements.vcpu_min >= 1 && var.instance_requirements.memory_mib_min >= 0 &&
      (var.instance_requirements.vcpu_max == null || var.instance_requirements.vcpu_max >= var.instance_requirements.vcpu_min) &&
      (var.instance_requirements.memory_mib_max == null || var.instance_requirements.memory_mib_max >= var.instance_requirements.memory_mib_min) &&
      contains(["included", "excluded", "required"], var.instance_requirements.burstable_performance) &&
      alltrue([for g in var.instance_requirements.instance_generations : contains(["current", "previous"], g)]) &&
      length(var.instance_requirements.allowed_instance_types) > 0 &&
      alltrue([for t in var.instance_requirements.allowed_instance_types : can(regex("^[a-z][a-z0-9-]*\\.[a-z0-9]+$", t)) && can(regex("^(a1|[a-z]+[0-9]+[a-z]*g[a-z]*)\\.", t)) == (var.architecture == "arm64")]),
    false)
    error_message = "instance_requirements: vcpu_min at least 1, maxima not below minima, burstable_performance included, excluded or required, instance_generations current or previous, and at least one allowed_instance_types entry, exact type names matching architecture."
  }
}

variable "image_ssm_parameter" {
  description = "SSM parameter holding the AMI id, resolved in each Region without an image_id (e.g. a public `/aws/service/...` parameter). Null uses the latest Amazon Linux 2023 AMI of architecture."
  type        = string
  default     = null

  validation {
    condition     = var.image_ssm_parameter == null || can(regex("^/[a-zA-Z0-9_./-]+$", var.image_ssm_parameter))
    error_message = "image_ssm_parameter must be an SSM parameter name starting with /."
  }
}

variable "user_data" {
  description = "User data of the instances, as plain text (the module base64-encodes it); null sets none."
  type        = string
  default     = null

  validation {
    condition     = var.user_data == null || try(length(base64encode(var.user_data)) <= 16384, false)
    error_message = "user_data must be at most 16 KB once base64-encoded."
  }
}

variable "instance_profile_arn" {
  description = "ARN of the IAM instance profile of the instances; null launches them without one."
  type        = string
  default     = null

  validation {
    condition     = var.instance_profile_arn == null || can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:instance-profile/.+$", var.instance_profile_arn))
    error_message = "instance_profile_arn must be an IAM instance profile ARN."
  }
}

variable "root_volume" {
  description = "Root EBS volume of the instances, always encrypted: device name (the AMI's root device), size in GiB, type, and the KMS key per Region (`kms_key_arns`, keyed by Region; Regions without one use the AWS managed EBS key)."
  type = object({
    device_name  = optional(string, "/dev/xvda")
    size_gib     = optional(number, 20)
    type         = optional(string, "gp3")
    kms_key_arns = optional(map(string), {})
  })
  default  = {}
  nullable = false

  validation {
    condition     = var.root_volume.size_gib >= 1 && var.root_volume.size_gib <= 16384 && contains(["gp2", "gp3", "io1", "io2"], var.root_volume.type)
    error_message = "root_volume.size_gib must be 1-16384 and type gp2, gp3, io1 or io2."
  }

  validation {
    condition     = alltrue([for r, a in var.root_volume.kms_key_arns : can(regex("^arn:aws[a-z-]*:kms:${r}:[0-9]{12}:key/.+$", a)) && contains(keys(var.regions), r)])
    error_message = "root_volume.kms_key_arns must be keyed by Regions of the fleet, each a KMS key ARN in that Region."
  }
}

variable "launch_heartbeat_timeout" {
  description = "Seconds a launching instance waits in the launch lifecycle hook (for CompleteLifecycleAction, e.g. from its user data once it is ready) before it goes InService anyway (30-7200)."
  type        = number
  default     = 300
  nullable    = false

  validation {
    condition     = var.launch_heartbeat_timeout >= 30 && var.launch_heartbeat_timeout <= 7200
    error_message = "launch_heartbeat_timeout must be from 30 to 7200 seconds."
  }
}

variable "terminate_heartbeat_timeout" {
  description = "Seconds a terminating instance (scale-in, rebalancing, Spot interruption) waits in the terminate lifecycle hook to drain before it is terminated anyway (30-7200; Spot gives two minutes' notice)."
  type        = number
  default     = 120
  nullable    = false

  validation {
    condition     = var.terminate_heartbeat_timeout >= 30 && var.terminate_heartbeat_timeout <= 7200
    error_message = "terminate_heartbeat_timeout must be from 30 to 7200 seconds."
  }
}

variable "health_check_grace_period" {
  description = "Seconds after launch before the groups check an instance's health."
  type        = number
  default     = 300
  nullable    = false

  validation {
    condition     = var.health_check_grace_period >= 0 && var.health_check_grace_period <= 7200
    error_message = "health_check_grace_period must be from 0 to 7200 seconds."
  }
}

################################################################################
# Capacity and policy (read by the fleet_optimizer function)
################################################################################

variable "min_total" {
  description = "Fewest instances the fleet holds across its Regions."
  type        = number
  default     = 0
  nullable    = false

  validation {
    condition     = var.min_total >= 0 && floor(var.min_total) == var.min_total
    error_message = "min_total must be a whole number, 0 or more."
  }
}

variable "max_total" {
  description = "Most instances the fleet holds across its Regions; at least min_total."
  type        = number

  validation {
    condition     = var.max_total >= 1 && floor(var.max_total) == var.max_total && var.max_total >= var.min_total
    error_message = "max_total must be a whole number, at least 1 and at least min_total."
  }
}

variable "desired_total" {
  description = "Instances the optimizer spreads across the Regions, from min_total to max_total. Terraform sets the groups' first desired capacity from it (split evenly within each group's limits); then the optimizer owns it."
  type        = number

  validation {
    condition     = floor(var.desired_total) == var.desired_total && var.desired_total >= var.min_total && var.desired_total <= var.max_total
    error_message = "desired_total must be a whole number from min_total to max_total."
  }
}

variable "strategy" {
  description = "How the optimizer spreads the fleet: carbon_first, balanced, cost_first, follow_the_sun (carbon forecast over the look-ahead) or renewable_only (Regions at or above renewable_threshold)."
  type        = string
  default     = "carbon_first"
  nullable    = false

  validation {
    condition     = contains(["carbon_first", "balanced", "cost_first", "follow_the_sun", "renewable_only"], var.strategy)
    error_message = "strategy must be one of carbon_first, balanced, cost_first, follow_the_sun, renewable_only."
  }
}

variable "hysteresis" {
  description = "The optimizer moves capacity only when the new allocation scores better by more than this fraction (0 to below 1)."
  type        = number
  default     = 0.05
  nullable    = false

  validation {
    condition     = var.hysteresis >= 0 && var.hysteresis < 1
    error_message = "hysteresis must be in [0, 1)."
  }
}

variable "dwell_minutes" {
  description = "Least time between two allocation changes, in minutes (0-1440); moves forced by minimums or lost capacity do not wait."
  type        = number
  default     = 60
  nullable    = false

  validation {
    condition     = var.dwell_minutes >= 0 && var.dwell_minutes <= 1440 && floor(var.dwell_minutes) == var.dwell_minutes
    error_message = "dwell_minutes must be a whole number from 0 to 1440."
  }
}

variable "move_cost_minutes" {
  description = "What moving one instance to another Region costs, as minutes of running it in its source Region (boot, warm-up, the launch-before-drain overlap): a move is made only when its forecast saving over the look-ahead is larger (0-1440)."
  type        = number
  default     = 30
  nullable    = false

  validation {
    condition     = var.move_cost_minutes >= 0 && var.move_cost_minutes <= 1440
    error_message = "move_cost_minutes must be from 0 to 1440."
  }
}

variable "lookahead_hours" {
  description = "Hours of carbon forecast a move's saving is weighed over (0-48); the dwell period counts instead when longer."
  type        = number
  default     = 12
  nullable    = false

  validation {
    condition     = var.lookahead_hours >= 0 && var.lookahead_hours <= 48 && floor(var.lookahead_hours) == var.lookahead_hours
    error_message = "lookahead_hours must be a whole number from 0 to 48."
  }
}

variable "max_step" {
  description = "Most instances the optimizer launches per run; null sets no limit."
  type        = number
  default     = null

  validation {
    condition     = var.max_step == null || try(var.max_step >= 1 && floor(var.max_step) == var.max_step, false)
    error_message = "max_step must be a whole number, at least 1, or null."
  }
}

variable "renewable_threshold" {
  description = "renewable_only: a Region qualifies when its renewable share is at or above this fraction (0-1)."
  type        = number
  default     = 0.5
  nullable    = false

  validation {
    condition     = var.renewable_threshold >= 0 && var.renewable_threshold <= 1
    error_message = "renewable_threshold must be in [0, 1]."
  }
}

variable "scaling_tiers" {
  description = "Carbon-aware target tracking: the target CPU utilisation (%) of a Region's group while its carbon intensity is below `below` g/kWh; ascending bounds, the last entry with `below = null` for everything above. The groups start at the last tier's target; the optimizer moves it as the intensity changes tier."
  type = list(object({
    below  = optional(number)
    target = number
  }))
  default = [
    { below = 100, target = 60 },
    { below = 200, target = 75 },
    { below = null, target = 90 },
  ]
  nullable = false

  validation {
    condition = length(var.scaling_tiers) > 0 && try(
      var.scaling_tiers[length(var.scaling_tiers) - 1].below == null &&
      alltrue([for i, t in var.scaling_tiers : t.target > 0 && t.target <= 100]) &&
      alltrue([for i in range(length(var.scaling_tiers) - 1) : var.scaling_tiers[i].below != null && var.scaling_tiers[i].below > 0]) &&
      alltrue([for i in range(max(0, length(var.scaling_tiers) - 2)) : var.scaling_tiers[i].below < var.scaling_tiers[i + 1].below]),
    false)
    error_message = "scaling_tiers need ascending positive `below` bounds, the last entry's below null, and targets in (0, 100]."
  }
}

variable "tags" {
  description = "Tags of every resource, propagated to the instances and their volumes."
  type        = map(string)
  default     = {}
  nullable    = false
}
