################################################################################
# General
################################################################################

variable "name" {
  description = "Name prefix of every resource (functions, roles, tables, buses). Unique per account, since IAM role names are global."
  type        = string
  default     = "carbon-aware"

  validation {
    condition     = can(regex("^[a-zA-Z][a-zA-Z0-9-]{0,31}$", var.name))
    error_message = "name must start with a letter and have at most 32 letters, digits or hyphens."
  }
}

variable "regions" {
  description = "AWS Regions where workloads may run. Each gets a regional stack (target state forwarding, runner event bus) and is monitored for carbon intensity."
  type        = list(string)

  validation {
    condition     = length(var.regions) > 0
    error_message = "regions must list at least one AWS Region."
  }

  validation {
    condition     = alltrue([for r in var.regions : can(regex("^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]{1,2}$", r))])
    error_message = "Every entry of regions must be an AWS Region name such as eu-west-1 or us-gov-west-1."
  }

  validation {
    condition     = length(distinct(var.regions)) == length(var.regions)
    error_message = "regions must not repeat a Region."
  }
}

variable "home_region" {
  description = "Region of the control plane (tables, functions, API, schedules, dashboard). Null uses the first entry of `regions`."
  type        = string
  default     = null

  validation {
    condition     = var.home_region == null || can(regex("^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]{1,2}$", var.home_region))
    error_message = "home_region must be an AWS Region name such as eu-west-1."
  }
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}

################################################################################
# Placement policy
################################################################################

variable "strategy" {
  description = "Default placement strategy for workloads that do not name one: time_shift, location_shift, combined, carbon_time, carbon_first, balanced, cost_first or follow_the_sun (interruptible work moves between Regions, each move paying its migration penalty; other work is placed as by combined)."
  type        = string
  default     = "combined"

  validation {
    condition     = contains(["time_shift", "location_shift", "combined", "carbon_time", "carbon_first", "balanced", "cost_first", "follow_the_sun"], var.strategy)
    error_message = "strategy must be one of time_shift, location_shift, combined, carbon_time, carbon_first, balanced, cost_first, follow_the_sun."
  }
}

variable "strategy_weights" {
  description = "Carbon and cost weights per blended strategy, e.g. `{ balanced = { carbon = 0.6, cost = 0.4 } }`: each entry replaces that strategy's own weights (carbon_first 0.8/0.2, balanced 0.5/0.5, cost_first 0.2/0.8) for every workload using it, unless the workload sets its own `strategy_options.carbon_weight`. Each weight in [0, 1], each pair summing to 1."
  type = map(object({
    carbon = number
    cost   = number
  }))
  default = {}

  validation {
    condition     = alltrue([for k in keys(var.strategy_weights) : contains(["carbon_first", "balanced", "cost_first"], k)])
    error_message = "strategy_weights keys must be blended strategies: carbon_first, balanced, cost_first."
  }

  validation {
    condition = alltrue([for w in values(var.strategy_weights) : try(
      w.carbon >= 0 && w.cost >= 0 && abs(w.carbon + w.cost - 1) < 0.000001,
    false)])
    error_message = "each strategy_weights entry must have non-negative carbon and cost weights summing to 1."
  }
}

variable "carbon_price_usd_per_tonne" {
  description = "Carbon price in USD per tCO2e that puts carbon and cost on one scale in the blended strategies. Null normalises both instead."
  type        = number
  default     = null

  validation {
    condition     = var.carbon_price_usd_per_tonne == null || try(var.carbon_price_usd_per_tonne > 0, false)
    error_message = "carbon_price_usd_per_tonne must be positive."
  }
}

variable "max_carbon_intensity" {
  description = "Placement constraint: never choose a slot above this intensity (gCO2e/kWh). Null sets no limit."
  type        = number
  default     = null

  validation {
    condition     = var.max_carbon_intensity == null || try(var.max_carbon_intensity > 0, false)
    error_message = "max_carbon_intensity must be positive."
  }
}

variable "max_cost_per_hour" {
  description = "Placement constraint of the blended strategies: never choose a Region above this price (USD/h). It applies to workloads that submit `prices`; until a price source exists, a workload without prices is placed on carbon alone and its decision says the constraint was not applied. Null sets no limit."
  type        = number
  default     = null

  validation {
    condition     = var.max_cost_per_hour == null || try(var.max_cost_per_hour > 0, false)
    error_message = "max_cost_per_hour must be positive."
  }
}

variable "sweeper_workers" {
  description = "Threads the sweeper plans and re-plans with, per due-index status step (1-32): planning throughput grows with them. Give the scheduler more memory with more workers."
  type        = number
  default     = 4

  validation {
    condition     = var.sweeper_workers >= 1 && var.sweeper_workers <= 32 && floor(var.sweeper_workers) == var.sweeper_workers
    error_message = "sweeper_workers must be a whole number from 1 to 32."
  }
}

variable "dispatch_timeout_seconds" {
  description = "How long a claimed workload may stay in DISPATCHING before the sweeper assumes its executor died and dispatches it again, in seconds; longer than the executor's timeout."
  type        = number
  default     = 900

  validation {
    condition     = var.dispatch_timeout_seconds >= 120 && var.dispatch_timeout_seconds <= 86400
    error_message = "dispatch_timeout_seconds must be from 120 to 86400."
  }
}

variable "running_grace_minutes" {
  description = "How long past a running workload's expected end (start + duration) the sweeper waits for its completion before asking the target (ECS DescribeTasks, Batch DescribeJobs, Step Functions DescribeExecution), and then between looks, in minutes."
  type        = number
  default     = 60

  validation {
    condition     = var.running_grace_minutes >= 1 && var.running_grace_minutes <= 10080
    error_message = "running_grace_minutes must be from 1 to 10080 (a week)."
  }
}

variable "run_timeout_minutes" {
  description = "How long past a running workload's expected end it may stay RUNNING, in minutes: then it becomes TIMED_OUT when no completion arrived and its target cannot be asked (lambda, eventbridge), no longer knows the run, or still runs. At least running_grace_minutes."
  type        = number
  default     = 360

  validation {
    condition     = var.run_timeout_minutes >= 1 && var.run_timeout_minutes <= 43200
    error_message = "run_timeout_minutes must be from 1 to 43200 (30 days)."
  }
}

variable "replan_threshold_percent" {
  description = "Hysteresis: a scheduled workload is re-planned only when a new forecast improves its expected emissions by more than this percentage."
  type        = number
  default     = 5

  validation {
    condition     = var.replan_threshold_percent > 0 && var.replan_threshold_percent <= 100
    error_message = "replan_threshold_percent must be in (0, 100]."
  }
}

################################################################################
# Carbon data
################################################################################

variable "signal_type" {
  description = "Carbon signal that ranks Regions: `average` (Electricity Maps, UK NESO) or `marginal` (WattTime MOER). Regions are never compared across types."
  type        = string
  default     = "average"

  validation {
    condition     = contains(["average", "marginal"], var.signal_type)
    error_message = "signal_type must be average or marginal."
  }
}

variable "refresh_prices" {
  description = "Whether the monitor keeps Fargate / Fargate Spot prices of every Region, and the on-demand prices of priced_instance_types, fresh from the AWS Price List API (cached a day in the signals table). The blended strategies use them for submissions that bring no prices. Takes effect in the aws partition only (the Price List API is not served elsewhere)."
  type        = bool
  default     = true
  nullable    = false
}

variable "priced_instance_types" {
  description = "EC2 instance types whose on-demand prices the monitor refreshes in every Region (for submissions naming an instance_type). Spot prices of fleet instance types come from the fleet optimizer."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for t in var.priced_instance_types : can(regex("^[a-z0-9-]{1,24}\\.[a-z0-9-]{1,24}$", t))])
    error_message = "priced_instance_types must be instance types such as m7g.large."
  }
}

variable "refresh_interval_minutes" {
  description = "How often the monitor refreshes carbon data for every Region, in minutes (5-60)."
  type        = number
  default     = 15

  validation {
    condition     = var.refresh_interval_minutes >= 5 && var.refresh_interval_minutes <= 60 && floor(var.refresh_interval_minutes) == var.refresh_interval_minutes
    error_message = "refresh_interval_minutes must be a whole number from 5 to 60."
  }
}

variable "sweeper_interval_minutes" {
  description = "How often the sweeper looks for overdue workloads and lost schedules, in minutes (1-60)."
  type        = number
  default     = 5

  validation {
    condition     = var.sweeper_interval_minutes >= 1 && var.sweeper_interval_minutes <= 60 && floor(var.sweeper_interval_minutes) == var.sweeper_interval_minutes
    error_message = "sweeper_interval_minutes must be a whole number from 1 to 60."
  }
}

variable "observation_ttl_days" {
  description = "Days the cache keeps carbon observations (DynamoDB TTL). The history forecaster learns from them: it needs about 45 days and improves up to a year."
  type        = number
  default     = 90

  validation {
    condition     = var.observation_ttl_days > 0
    error_message = "observation_ttl_days must be positive."
  }
}

variable "forecast_ttl_days" {
  description = "Days the cache keeps carbon forecasts (DynamoDB TTL)."
  type        = number
  default     = 2

  validation {
    condition     = var.forecast_ttl_days > 0
    error_message = "forecast_ttl_days must be positive."
  }
}

variable "workload_ttl_days" {
  description = "Days a finished workload (succeeded, failed, cancelled, expired) stays in the workloads table (DynamoDB TTL)."
  type        = number
  default     = 90

  validation {
    condition     = var.workload_ttl_days > 0
    error_message = "workload_ttl_days must be positive."
  }
}

variable "provider_credentials" {
  description = "Where each carbon-data provider's key lives, keyed by provider (`electricitymaps`, `watttime`): the ARN of an existing Secrets Manager secret or SSM SecureString parameter. Only the reference reaches the functions, which read the value at run time. Providers without an entry are skipped (UK NESO and the built-in profiles need no key)."
  type = map(object({
    secret_arn        = optional(string)
    ssm_parameter_arn = optional(string)
  }))
  default = {}

  validation {
    condition     = alltrue([for k in keys(var.provider_credentials) : contains(["electricitymaps", "watttime"], k)])
    error_message = "provider_credentials keys must be electricitymaps or watttime."
  }

  validation {
    condition     = alltrue([for c in values(var.provider_credentials) : (c.secret_arn == null) != (c.ssm_parameter_arn == null)])
    error_message = "Each provider_credentials entry needs exactly one of secret_arn or ssm_parameter_arn."
  }

  validation {
    condition = alltrue([for c in values(var.provider_credentials) : (
      c.secret_arn == null || can(regex("^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:.+$", c.secret_arn))) && (
      c.ssm_parameter_arn == null || can(regex("^arn:aws[a-z-]*:ssm:[a-z0-9-]+:[0-9]{12}:parameter/.+$", c.ssm_parameter_arn))
    )])
    error_message = "secret_arn must be a Secrets Manager secret ARN and ssm_parameter_arn an SSM parameter ARN."
  }
}

variable "provider_credentials_kms_key_arn" {
  description = "Customer managed KMS key that encrypts the provider credentials, if any; the monitor may decrypt with it."
  type        = string
  default     = null
}

variable "provider_base_urls" {
  description = "Override of the carbon-data providers' base URLs, keyed by provider (`electricitymaps`, `watttime`, `ukci`); empty uses the public endpoints."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k, v in var.provider_base_urls : contains(["electricitymaps", "watttime", "ukci"], k) && can(regex("^https?://", v))])
    error_message = "provider_base_urls keys must be electricitymaps, watttime or ukci, and values http(s) URLs."
  }
}

variable "provider_chain" {
  description = "Order in which the monitor asks for carbon data: any of `electricitymaps`, `watttime`, `ukci`, `history` (our forecaster on cached history), `profile` (built-in regional profiles). Null uses the built-in order: Electricity Maps (with a key), WattTime (with credentials, for `marginal`), UK NESO (GB), history, profile."
  type        = list(string)
  default     = null

  validation {
    condition     = var.provider_chain == null || try(length(var.provider_chain) > 0 && length(distinct(var.provider_chain)) == length(var.provider_chain) && alltrue([for p in var.provider_chain : contains(["electricitymaps", "watttime", "ukci", "history", "profile"], p)]), false)
    error_message = "provider_chain must list distinct names from electricitymaps, watttime, ukci, history and profile."
  }
}

variable "forecast_refresh_minutes" {
  description = "How often the monitor fetches a new forecast per Region, in minutes; at least refresh_interval_minutes. Null: hourly, or every refresh when that is longer."
  type        = number
  default     = null

  validation {
    condition     = var.forecast_refresh_minutes == null || try(var.forecast_refresh_minutes >= 5 && var.forecast_refresh_minutes <= 1440, false)
    error_message = "forecast_refresh_minutes must be from 5 to 1440."
  }
}

variable "forecast_hours" {
  description = "How far ahead the monitor forecasts and caches, in hours (1-72); workloads whose deadline lies further out are planned on the built-in profiles beyond it."
  type        = number
  default     = 48

  validation {
    condition     = var.forecast_hours >= 1 && var.forecast_hours <= 72
    error_message = "forecast_hours must be from 1 to 72."
  }
}

variable "emission_factor_type" {
  description = "Electricity Maps emission factors: `lifecycle` (includes upstream emissions) or `direct` (combustion only)."
  type        = string
  default     = "lifecycle"

  validation {
    condition     = contains(["lifecycle", "direct"], var.emission_factor_type)
    error_message = "emission_factor_type must be lifecycle or direct."
  }
}

variable "ukci_regions" {
  description = "AWS Regions to read from the UK NESO Carbon Intensity API by NESO region id (1-17), e.g. `{ \"eu-west-2\" = 13 }` for London. Empty: the national GB figure for British Regions."
  type        = map(number)
  default     = {}

  validation {
    condition     = alltrue([for r, id in var.ukci_regions : can(regex("^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]{1,2}$", r)) && id >= 1 && id <= 17 && floor(id) == id])
    error_message = "ukci_regions keys must be AWS Region names and values NESO region ids from 1 to 17."
  }
}

variable "region_zones" {
  description = "Override of the Electricity Maps zone of AWS Regions, e.g. `{ \"us-east-1\" = \"US-MIDA-PJM\" }`. Each zone must be one the built-in catalog or profiles know (the functions refuse to start otherwise). Empty keeps the built-in catalog."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for r, z in var.region_zones : can(regex("^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]{1,2}$", r)) && can(regex("^[A-Z]{2,3}(-[A-Za-z0-9]+)*$", z))])
    error_message = "region_zones keys must be AWS Region names and values Electricity Maps zone ids such as DE or US-CAL-CISO."
  }
}

################################################################################
# Execution targets
################################################################################

variable "execution_targets" {
  description = "Allow-list of what the executor may start, in any listed Region. The executor's IAM policy grants exactly these (plus the module's own runner event buses); anything else is refused at run time too. `task_token_state_machine_arns` are state machines whose waiting steps submit `task_token` workloads: the executor may call SendTaskSuccess for them and their executions' status changes are forwarded for completion."
  type = object({
    lambda_function_arns          = optional(list(string), [])
    ecs_cluster_arns              = optional(list(string), [])
    ecs_task_definition_arns      = optional(list(string), [])
    batch_job_queue_arns          = optional(list(string), [])
    batch_job_definition_arns     = optional(list(string), [])
    state_machine_arns            = optional(list(string), [])
    task_token_state_machine_arns = optional(list(string), [])
    event_bus_arns                = optional(list(string), [])
    pass_role_arns                = optional(list(string), [])
  })
  default = {}

  validation {
    condition = alltrue(flatten([
      [for a in var.execution_targets.lambda_function_arns : can(regex("^arn:aws[a-z-]*:lambda:[a-z0-9-]+:[0-9]{12}:function:[^*]+$", a))],
      [for a in var.execution_targets.ecs_cluster_arns : can(regex("^arn:aws[a-z-]*:ecs:[a-z0-9-]+:[0-9]{12}:cluster/[^*]+$", a))],
      [for a in var.execution_targets.ecs_task_definition_arns : can(regex("^arn:aws[a-z-]*:ecs:[a-z0-9-]+:[0-9]{12}:task-definition/.+$", a))],
      [for a in var.execution_targets.batch_job_queue_arns : can(regex("^arn:aws[a-z-]*:batch:[a-z0-9-]+:[0-9]{12}:job-queue/[^*]+$", a))],
      [for a in var.execution_targets.batch_job_definition_arns : can(regex("^arn:aws[a-z-]*:batch:[a-z0-9-]+:[0-9]{12}:job-definition/.+$", a))],
      [for a in var.execution_targets.state_machine_arns : can(regex("^arn:aws[a-z-]*:states:[a-z0-9-]+:[0-9]{12}:stateMachine:[^*]+$", a))],
      [for a in var.execution_targets.task_token_state_machine_arns : can(regex("^arn:aws[a-z-]*:states:[a-z0-9-]+:[0-9]{12}:stateMachine:[^*]+$", a))],
      [for a in var.execution_targets.event_bus_arns : can(regex("^arn:aws[a-z-]*:events:[a-z0-9-]+:[0-9]{12}:event-bus/[^*]+$", a))],
      [for a in var.execution_targets.pass_role_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/[^*]+$", a))],
    ]))
    error_message = "Every execution_targets entry must be a full ARN of its kind (no wildcards except task and job definition revisions)."
  }

  validation {
    condition     = length(var.execution_targets.ecs_task_definition_arns) == 0 || length(var.execution_targets.ecs_cluster_arns) > 0
    error_message = "execution_targets.ecs_task_definition_arns needs at least one entry in ecs_cluster_arns."
  }

  validation {
    condition     = (length(var.execution_targets.batch_job_queue_arns) == 0) == (length(var.execution_targets.batch_job_definition_arns) == 0)
    error_message = "execution_targets.batch_job_queue_arns and batch_job_definition_arns go together."
  }
}

variable "create_runner_event_buses" {
  description = "Whether each regional stack creates an event bus for custom runners (the executor's `events` target)."
  type        = bool
  default     = true
}

################################################################################
# Lambda
################################################################################

variable "architecture" {
  description = "Instruction set of every function: `arm64` (Graviton, default) or `x86_64`. The bundle must be built for it (`make build ARCH=...`)."
  type        = string
  default     = "arm64"

  validation {
    condition     = contains(["arm64", "x86_64"], var.architecture)
    error_message = "architecture must be arm64 or x86_64."
  }
}

variable "lambda_package_dir" {
  description = "Directory holding one bundle per function, `<function>.zip` (as `make build` writes them to `dist/<architecture>/`). Null uses `dist/<architecture>` inside the module, which release archives ship prebuilt. Mutually exclusive with lambda_package_s3."
  type        = string
  default     = null
}

variable "lambda_package_s3" {
  description = "Take the bundles from S3 instead of local files (for pipelines): the object of each function is `<key_prefix><function>.zip` in `bucket`, optionally pinned to a version in `object_versions` (keyed by function). The bucket must be in the home Region. Mutually exclusive with lambda_package_dir."
  type = object({
    bucket          = string
    key_prefix      = optional(string, "")
    object_versions = optional(map(string), {})
  })
  default = null

  validation {
    condition     = var.lambda_package_s3 == null || try(can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.lambda_package_s3.bucket)), false)
    error_message = "lambda_package_s3.bucket must be an S3 bucket name."
  }

  validation {
    condition     = var.lambda_package_s3 == null || try(alltrue([for k in keys(var.lambda_package_s3.object_versions) : contains(["api", "intake", "monitor", "scheduler", "executor", "completion", "fleet_optimizer", "interruptions", "migrations"], k)]), false)
    error_message = "lambda_package_s3.object_versions keys must be function names: api, intake, monitor, scheduler, executor, completion, fleet_optimizer, interruptions or migrations."
  }

  validation {
    condition     = var.lambda_package_s3 == null || var.lambda_package_dir == null
    error_message = "Set either lambda_package_s3 or lambda_package_dir, not both."
  }
}

variable "code_signing_config_arn" {
  description = "ARN of a Lambda code signing configuration applied to every function; null deploys unsigned code. Sign the bundles (AWS Signer, e.g. from lambda_package_s3) before deploying with it."
  type        = string
  default     = null

  validation {
    condition     = var.code_signing_config_arn == null || can(regex("^arn:aws[a-z-]*:lambda:[a-z0-9-]+:[0-9]{12}:code-signing-config:csc-[a-z0-9]{17}$", var.code_signing_config_arn))
    error_message = "code_signing_config_arn must be a Lambda code signing config ARN (arn:...:code-signing-config:csc-...)."
  }
}

variable "tracing_enabled" {
  description = "Whether the functions send X-Ray traces (active tracing, the X-Ray grant and Powertools Tracer on). Off by default: tracing costs per trace."
  type        = bool
  default     = false
}

variable "function_settings" {
  description = "Per-function overrides of memory (MB), timeout (s) and reserved concurrency, keyed by function: api, intake, monitor, scheduler, executor, completion, fleet_optimizer."
  type = map(object({
    memory_size                    = optional(number)
    timeout                        = optional(number)
    reserved_concurrent_executions = optional(number)
  }))
  default = {}

  validation {
    condition     = alltrue([for k in keys(var.function_settings) : contains(["api", "intake", "monitor", "scheduler", "executor", "completion", "fleet_optimizer", "interruptions", "migrations"], k)])
    error_message = "function_settings keys must be api, intake, monitor, scheduler, executor, completion, fleet_optimizer, interruptions or migrations."
  }

  validation {
    condition = alltrue([for s in values(var.function_settings) : (
      (s.memory_size == null || try(s.memory_size >= 128 && s.memory_size <= 10240, false)) &&
      (s.timeout == null || try(s.timeout >= 1 && s.timeout <= 900, false)) &&
      (s.reserved_concurrent_executions == null || try(s.reserved_concurrent_executions >= -1, false))
    )])
    error_message = "memory_size must be 128-10240 MB, timeout 1-900 s and reserved_concurrent_executions -1 or more."
  }
}

variable "log_level" {
  description = "Log level of the functions (Powertools)."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR"], var.log_level)
    error_message = "log_level must be DEBUG, INFO, WARNING or ERROR."
  }
}

variable "log_retention_in_days" {
  description = "Retention of every CloudWatch log group the module creates."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_in_days)
    error_message = "log_retention_in_days must be a value CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ... 3653)."
  }
}

variable "vpc_config" {
  description = "Subnets (in the home Region) and security groups to attach the functions to a VPC. They need a route to the carbon-data APIs and to AWS endpoints (NAT or VPC endpoints). Null runs them outside any VPC."
  type = object({
    subnet_ids         = list(string)
    security_group_ids = list(string)
  })
  default = null

  validation {
    condition     = var.vpc_config == null || try(length(var.vpc_config.subnet_ids) > 0 && length(var.vpc_config.security_group_ids) > 0, false)
    error_message = "vpc_config needs at least one subnet and one security group."
  }
}

################################################################################
# IAM
################################################################################

variable "role_path" {
  description = "Path of every IAM role the module creates (the functions' and the service roles)."
  type        = string
  default     = "/"

  validation {
    condition     = can(regex("^/([\\x21-\\x7E]+/)?$", var.role_path))
    error_message = "role_path must start and end with / (e.g. /carbon-aware/)."
  }
}

variable "role_permissions_boundary" {
  description = "ARN of the managed policy set as permissions boundary on every IAM role the module creates; null sets none."
  type        = string
  default     = null

  validation {
    condition     = var.role_permissions_boundary == null || can(regex("^arn:aws[a-z-]*:iam::([0-9]{12}|aws):policy/.+$", var.role_permissions_boundary))
    error_message = "role_permissions_boundary must be an IAM managed policy ARN."
  }
}

variable "function_role_arns" {
  description = "Existing IAM roles to use instead of creating them, keyed by function (api, intake, monitor, scheduler, executor, completion, fleet_optimizer). The module attaches nothing to a role passed here: grant it the function's policy (output function_policies) yourself. Functions without an entry get a role from the module."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k, a in var.function_role_arns : contains(["api", "intake", "monitor", "scheduler", "executor", "completion", "fleet_optimizer", "interruptions", "migrations"], k) && can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$", a))])
    error_message = "function_role_arns keys must be api, intake, monitor, scheduler, executor, completion, fleet_optimizer, interruptions or migrations, and values IAM role ARNs."
  }
}

variable "service_role_arns" {
  description = "Existing IAM roles to use instead of creating the service roles, keyed by role: `schedules` (EventBridge Scheduler invokes the executor) and `event-forwarder` (EventBridge puts target state changes on the control bus). The module attaches nothing to a role passed here: it needs the trust and the policy of output service_role_policies."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k, a in var.service_role_arns : contains(["schedules", "event-forwarder"], k) && can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$", a))])
    error_message = "service_role_arns keys must be schedules or event-forwarder, and values IAM role ARNs."
  }
}

################################################################################
# Encryption, API, observability
################################################################################

variable "kms_key_arn" {
  description = "Customer managed KMS key (home Region) for the tables, log groups, queues, alarm topic, function environments, the control event bus, the home Region's runner event bus and the workloads' one-time schedules. Its key policy must allow CloudWatch Logs, CloudWatch alarms and EventBridge (events.amazonaws.com: kms:DescribeKey, kms:GenerateDataKey, kms:Decrypt). Null uses AWS owned or AWS managed keys."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN."
  }
}

variable "regional_kms_key_arns" {
  description = "Customer managed KMS key of the runner event bus and the checkpoint bucket of each other Region, keyed by Region (a KMS key serves its own Region only; kms_key_arn covers the home Region). Regions without an entry use the AWS owned key (the AWS managed aws/s3 key for checkpoints)."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for r, a in var.regional_kms_key_arns : can(regex("^arn:aws[a-z-]*:kms:${r}:[0-9]{12}:key/.+$", a))])
    error_message = "regional_kms_key_arns values must be KMS key ARNs in the Region of their key."
  }
}

variable "deletion_protection" {
  description = "Whether the DynamoDB tables refuse deletion."
  type        = bool
  default     = true
}

variable "api_type" {
  description = "How the submit API is exposed, always with AWS_IAM (SigV4) auth: `http_api` (API Gateway HTTP API), `function_url` (Lambda function URL) or `none`."
  type        = string
  default     = "http_api"

  validation {
    condition     = contains(["http_api", "function_url", "none"], var.api_type)
    error_message = "api_type must be http_api, function_url or none."
  }
}

variable "create_alarms" {
  description = "Whether to create CloudWatch alarms (function errors, dead-letter messages). They notify the alarm topic."
  type        = bool
  default     = true
}

variable "create_alarm_topic" {
  description = "Whether to create an SNS topic for the alarms. Ignored when alarm_topic_arn is set."
  type        = bool
  default     = false
}

variable "alarm_topic_arn" {
  description = "ARN of an existing SNS topic the alarms notify."
  type        = string
  default     = null

  validation {
    condition     = var.alarm_topic_arn == null || can(regex("^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:.+$", var.alarm_topic_arn))
    error_message = "alarm_topic_arn must be an SNS topic ARN."
  }
}

variable "create_dashboard" {
  description = "Whether to create the CloudWatch dashboard."
  type        = bool
  default     = true
}

################################################################################
# Spot fleets
################################################################################

variable "fleets" {
  description = "Spot fleets spread across Regions by the fleet_optimizer function, keyed by fleet name (groups are named `<name>-<fleet>`). Per fleet: `regions` (per Region its subnet_ids, security_group_ids, optional image_id, min_share, max_share, on_demand_base_capacity), `instance_types` (at least three) or `instance_requirements` (within `allowed_instance_types`), `architecture`, `image_ssm_parameter`, `user_data`, `instance_profile_arn`, `root_volume`, lifecycle hook heartbeat timeouts, `min_total`, `max_total`, `desired_total`, `strategy` (carbon_first, balanced, cost_first, follow_the_sun, renewable_only), `hysteresis`, `dwell_minutes`, `max_step`, `move_cost_minutes`, `lookahead_hours`, `renewable_threshold`, `scaling_tiers` and `tags`; see modules/fleet for each field and its default. Every fleet Region must be one of `regions` (the monitor caches carbon signals for those only). Empty creates nothing."
  type = map(object({
    regions = map(object({
      subnet_ids              = list(string)
      security_group_ids      = list(string)
      image_id                = optional(string)
      min_share               = optional(number)
      max_share               = optional(number)
      on_demand_base_capacity = optional(number)
    }))
    architecture   = optional(string)
    instance_types = optional(list(string))
    instance_requirements = optional(object({
      vcpu_min               = number
      vcpu_max               = optional(number)
      memory_mib_min         = number
      memory_mib_max         = optional(number)
      instance_generations   = optional(list(string))
      burstable_performance  = optional(string)
      allowed_instance_types = list(string)
    }))
    image_ssm_parameter  = optional(string)
    user_data            = optional(string)
    instance_profile_arn = optional(string)
    root_volume = optional(object({
      device_name  = optional(string)
      size_gib     = optional(number)
      type         = optional(string)
      kms_key_arns = optional(map(string))
    }))
    launch_heartbeat_timeout    = optional(number)
    terminate_heartbeat_timeout = optional(number)
    health_check_grace_period   = optional(number)
    min_total                   = optional(number)
    max_total                   = number
    desired_total               = number
    strategy                    = optional(string)
    hysteresis                  = optional(number)
    dwell_minutes               = optional(number)
    max_step                    = optional(number)
    move_cost_minutes           = optional(number)
    lookahead_hours             = optional(number)
    renewable_threshold         = optional(number)
    scaling_tiers = optional(list(object({
      below  = optional(number)
      target = number
    })))
    tags = optional(map(string), {})
  }))
  default  = {}
  nullable = false

  validation {
    condition     = alltrue([for k in keys(var.fleets) : can(regex("^[a-z][a-z0-9-]{0,30}$", k))])
    error_message = "fleets keys must start with a lowercase letter and have at most 31 lowercase letters, digits or hyphens."
  }

  validation {
    condition     = alltrue([for f in values(var.fleets) : alltrue([for r in keys(f.regions) : contains(var.regions, r)])])
    error_message = "Every Region of a fleet in fleets must be one of regions (the monitor caches carbon signals for those only)."
  }
}

variable "fleet_optimizer_schedule" {
  description = "How often the fleet_optimizer function runs, as an EventBridge schedule expression (`rate(...)` or `cron(...)`)."
  type        = string
  default     = "rate(5 minutes)"

  validation {
    condition     = can(regex("^(rate\\([1-9][0-9]* (minute|minutes|hour|hours|day|days)\\)|cron\\(.+\\))$", var.fleet_optimizer_schedule))
    error_message = "fleet_optimizer_schedule must be rate(<n> minutes|hours|days) or cron(...)."
  }
}

variable "migrations" {
  description = "Migrations between Regions (carbon_aware.runtime.migrations): `enabled` deploys the migrations table and function; `step_schedule` how often the function steps the migrations due (`rate(...)` or `cron(...)`); `poll_seconds` how soon a state that waits on AWS is looked at again; `state_timeouts` seconds a migration may stay in a state (pending, validating, preparing, migrating, completing, rolling_back): past it validating fails, preparing and migrating roll back, the others are stepped again; `auto` runs the trigger pass before each step (off by default: the module then moves running work by itself, see the README); `live` allows `live` (pre-copy) migrations of interruptible workloads, which pause the workload briefly (off by default; see the README for which workloads suit it); `policy` the trigger's guards (carbon_aware.engine.migration.MigrationPolicy): `threshold_g_per_kwh` and `renewable_floor` trigger, the forecast net saving over `horizon_hours` (1 to 168) must exceed max(`margin_g`, `margin_ratio` x the move's overhead), `confirmations` consecutive evaluations choosing the same target, `min_dwell_minutes` between moves, `max_per_workload_per_day`, `max_fleet_fraction` migrating at once, `cooldown_minutes` after a rollback (doubling per consecutive rollback, up to `max_cooldown_minutes`), more than `surge_limit_per_hour` starts in an hour raise the threshold by `surge_raise_g_per_kwh`; `services` the stateless services the blue_green strategy can move, by name: the Route 53 weighted record set carrying their traffic (`zone_id`, `record_name`, `record_type`, default A) and per Region the Auto Scaling group running them (`group`), the set identifier of that Region's weighted record (`set_identifier`) and optionally the Route 53 health check of that Region (`health_check_id`). The migrations function is granted SetDesiredCapacity on those groups, UPSERTs of those record names in those zones and GetHealthCheckStatus of those health checks only."
  type = object({
    enabled        = optional(bool, false)
    step_schedule  = optional(string, "rate(1 minute)")
    poll_seconds   = optional(number, 30)
    state_timeouts = optional(map(number), {})
    auto           = optional(bool, false)
    live           = optional(bool, false)
    policy = optional(object({
      threshold_g_per_kwh      = optional(number, 300)
      renewable_floor          = optional(number, 0.3)
      margin_g                 = optional(number, 50)
      margin_ratio             = optional(number, 1)
      horizon_hours            = optional(number, 24)
      confirmations            = optional(number, 2)
      min_dwell_minutes        = optional(number, 240)
      max_per_workload_per_day = optional(number, 3)
      max_fleet_fraction       = optional(number, 0.25)
      cooldown_minutes         = optional(number, 60)
      max_cooldown_minutes     = optional(number, 1440)
      surge_limit_per_hour     = optional(number, 10)
      surge_raise_g_per_kwh    = optional(number, 100)
    }), {})
    services = optional(map(object({
      zone_id     = string
      record_name = string
      record_type = optional(string, "A")
      regions = map(object({
        group           = string
        set_identifier  = string
        health_check_id = optional(string)
      }))
    })), {})
  })
  default = {}

  validation {
    condition     = can(regex("^(rate\\([1-9][0-9]* (minute|minutes|hour|hours|day|days)\\)|cron\\(.+\\))$", var.migrations.step_schedule))
    error_message = "migrations.step_schedule must be rate(<n> minutes|hours|days) or cron(...)."
  }
  validation {
    condition     = var.migrations.poll_seconds > 0
    error_message = "migrations.poll_seconds must be greater than 0."
  }
  validation {
    condition     = alltrue([for k, v in var.migrations.state_timeouts : contains(["pending", "validating", "preparing", "migrating", "completing", "rolling_back"], k) && v > 0])
    error_message = "migrations.state_timeouts keys must be pending, validating, preparing, migrating, completing or rolling_back, with seconds greater than 0."
  }
  validation {
    condition     = alltrue([for v in ["threshold_g_per_kwh", "margin_g", "margin_ratio", "min_dwell_minutes", "cooldown_minutes", "surge_raise_g_per_kwh"] : var.migrations.policy[v] >= 0])
    error_message = "migrations.policy threshold_g_per_kwh, margin_g, margin_ratio, min_dwell_minutes, cooldown_minutes and surge_raise_g_per_kwh must be 0 or more."
  }
  validation {
    condition     = var.migrations.policy.max_cooldown_minutes >= var.migrations.policy.cooldown_minutes && var.migrations.policy.horizon_hours >= 1 && var.migrations.policy.horizon_hours <= 168
    error_message = "migrations.policy max_cooldown_minutes must be at least cooldown_minutes, and horizon_hours 1 to 168."
  }
  validation {
    condition     = var.migrations.policy.renewable_floor >= 0 && var.migrations.policy.renewable_floor <= 1 && var.migrations.policy.max_fleet_fraction > 0 && var.migrations.policy.max_fleet_fraction <= 1
    error_message = "migrations.policy renewable_floor must be 0 to 1 and max_fleet_fraction greater than 0 and at most 1."
  }
  validation {
    condition     = alltrue([for v in [var.migrations.policy.confirmations, var.migrations.policy.max_per_workload_per_day, var.migrations.policy.surge_limit_per_hour] : v >= 1 && floor(v) == v])
    error_message = "migrations.policy confirmations, max_per_workload_per_day and surge_limit_per_hour must be whole numbers of 1 or more."
  }
  validation {
    condition     = alltrue([for k, v in var.migrations.services : can(regex("^[a-z][a-z0-9-]{0,30}$", k)) && length(v.regions) >= 2 && alltrue([for r in keys(v.regions) : contains(var.regions, r)])])
    error_message = "migrations.services keys must start with a lowercase letter and have at most 31 lowercase letters, digits or hyphens, and each service at least two regions, all of them in regions."
  }
  validation {
    condition     = alltrue([for v in values(var.migrations.services) : can(regex("^[A-Z0-9]{1,32}$", v.zone_id)) && contains(["A", "AAAA", "CNAME"], v.record_type) && length(trimsuffix(v.record_name, ".")) > 0])
    error_message = "migrations.services zone_id must be a Route 53 hosted zone id (Z...), record_type A, AAAA or CNAME, and record_name a DNS name."
  }
  validation {
    condition     = alltrue([for v in values(var.migrations.services) : alltrue([for e in values(v.regions) : length(e.group) > 0 && length(e.set_identifier) > 0 && (e.health_check_id == null || can(regex("^[0-9a-f-]{36}$", coalesce(e.health_check_id, "-"))))])])
    error_message = "migrations.services regions need a group and a set_identifier; health_check_id, when set, is a Route 53 health check id (a UUID)."
  }
  validation {
    condition     = alltrue([for v in values(var.migrations.services) : length(distinct([for e in values(v.regions) : e.set_identifier])) == length(v.regions)])
    error_message = "migrations.services set_identifier must differ between the regions of a service."
  }
}

variable "placement_score_daily_budget" {
  description = "Most Spot placement score requests (GetSpotPlacementScores, distinct configurations) the fleet_optimizer makes per day; over it, it uses the last known scores (AWS limits distinct configurations per account and day)."
  type        = number
  default     = 40

  validation {
    condition     = var.placement_score_daily_budget >= 1 && var.placement_score_daily_budget <= 1000 && floor(var.placement_score_daily_budget) == var.placement_score_daily_budget
    error_message = "placement_score_daily_budget must be a whole number from 1 to 1000."
  }
}

################################################################################
# Observability: export
################################################################################

variable "export_bucket_name" {
  description = "Existing S3 bucket the exporter writes final and expired records to (JSON lines under export_prefix). Null creates one (public access blocked, encrypted with kms_key_arn when set, export_lifecycle applied)."
  type        = string
  default     = null

  validation {
    condition     = var.export_bucket_name == null || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.export_bucket_name))
    error_message = "export_bucket_name must be an S3 bucket name."
  }
}

variable "export_prefix" {
  description = "Key prefix of the export: objects are <export_prefix>/<table name>/dt=YYYY-MM-DD/<first>-<last sequence number>.jsonl."
  type        = string
  default     = "exports"

  validation {
    condition     = can(regex("^[A-Za-z0-9][A-Za-z0-9_.-]*(/[A-Za-z0-9][A-Za-z0-9_.-]*)*$", var.export_prefix))
    error_message = "export_prefix must be a key prefix without leading or trailing slash (letters, digits, _ . - and /)."
  }
}

variable "export_lifecycle" {
  description = "Lifecycle of the created export bucket: move objects to storage_class after transition_days (null: never) and delete them after expiration_days (null: keep)."
  type = object({
    transition_days = optional(number, 90)
    storage_class   = optional(string, "GLACIER_IR")
    expiration_days = optional(number)
  })
  default = {}

  validation {
    condition     = contains(["STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING", "GLACIER_IR", "GLACIER", "DEEP_ARCHIVE"], var.export_lifecycle.storage_class)
    error_message = "export_lifecycle.storage_class must be STANDARD_IA, ONEZONE_IA, INTELLIGENT_TIERING, GLACIER_IR, GLACIER or DEEP_ARCHIVE."
  }

  validation {
    condition     = var.export_lifecycle.transition_days == null || try(var.export_lifecycle.transition_days >= 30 && floor(var.export_lifecycle.transition_days) == var.export_lifecycle.transition_days, false)
    error_message = "export_lifecycle.transition_days must be a whole number of at least 30 days."
  }

  validation {
    condition     = var.export_lifecycle.expiration_days == null || try(var.export_lifecycle.expiration_days > coalesce(var.export_lifecycle.transition_days, 0) && floor(var.export_lifecycle.expiration_days) == var.export_lifecycle.expiration_days, false)
    error_message = "export_lifecycle.expiration_days must be a whole number of days after transition_days."
  }
}

################################################################################
# Observability: alarms
################################################################################

variable "alarm_thresholds" {
  description = "Thresholds of the service alarms: carbon_intensity (g/kWh, hourly average per Region), renewable_share_percent (below), migrations_per_hour, estimates_hours (hours some Region plans on estimates), scheduler_lag_minutes (oldest due workload)."
  type = object({
    carbon_intensity        = optional(number, 300)
    renewable_share_percent = optional(number, 30)
    migrations_per_hour     = optional(number, 10)
    estimates_hours         = optional(number, 3)
    scheduler_lag_minutes   = optional(number, 15)
  })
  default = {}

  validation {
    condition     = var.alarm_thresholds.carbon_intensity > 0 && var.alarm_thresholds.migrations_per_hour >= 0
    error_message = "alarm_thresholds.carbon_intensity must be positive and alarm_thresholds.migrations_per_hour at least 0."
  }

  validation {
    condition     = var.alarm_thresholds.renewable_share_percent > 0 && var.alarm_thresholds.renewable_share_percent <= 100
    error_message = "alarm_thresholds.renewable_share_percent must be in (0, 100]."
  }

  validation {
    condition     = var.alarm_thresholds.estimates_hours >= 1 && var.alarm_thresholds.estimates_hours <= 24 && floor(var.alarm_thresholds.estimates_hours) == var.alarm_thresholds.estimates_hours
    error_message = "alarm_thresholds.estimates_hours must be a whole number of hours from 1 to 24."
  }

  validation {
    condition     = var.alarm_thresholds.scheduler_lag_minutes >= 1
    error_message = "alarm_thresholds.scheduler_lag_minutes must be at least 1."
  }
}

variable "slo_targets" {
  description = "SLO targets (fractions): dispatch_availability (due work dispatched within its window), carbon_efficiency (realised saving / perfect-forecast saving from observed intensities), migration_success. Each gets fast (14.4x) and slow (6x) multi-window burn-rate alarms where the burn rate can reach them (it is at most 1 / (1 - target): none for carbon_efficiency below 84 %, only the slow pair below 93.1 %); an SLO with neither pair gets an attainment alarm (good / total under target in each 6-hour period of a day)."
  type = object({
    dispatch_availability = optional(number, 0.999)
    carbon_efficiency     = optional(number, 0.6)
    migration_success     = optional(number, 0.95)
  })
  default = {}

  validation {
    condition     = alltrue([for v in values(var.slo_targets) : v > 0 && v < 1])
    error_message = "slo_targets values must be between 0 and 1 (exclusive)."
  }
}

################################################################################
# Spot interruptions
################################################################################

variable "interruption_handling" {
  description = "How the interruptions function acts (interruptions.tf). `rebalance_action`: on an EC2 rebalance recommendation for a fleet instance, `ignore`, `prepare` (raise the group's desired capacity by one, within its MaxSize: a replacement launches, nothing drains; the fleet optimizer keeps it above its plan until the instance stops or `unavailable_minutes` pass) or `replace` (checkpoint, then terminate the instance in its group without lowering desired capacity, so it drains through the terminate lifecycle hook and is replaced). `unavailable_minutes`: how long an instance type and Availability Zone that sent a spot interruption warning stay marked unavailable to the fleet optimizer, and at most how long a `prepare` replacement is held. `checkpoint_ssm_document`: an SSM document (name or ARN) sent to an interrupted or draining fleet instance to make it checkpoint; null relies on the agent's instance-metadata watch alone. `max_replacements`: a workload interrupted more often than this ends FAILED. `self_check_schedule`: when the function re-checks that rules, queue and permissions are wired."
  type = object({
    rebalance_action        = optional(string, "prepare")
    unavailable_minutes     = optional(number, 60)
    checkpoint_ssm_document = optional(string)
    max_replacements        = optional(number, 3)
    self_check_schedule     = optional(string, "rate(1 day)")
  })
  default  = {}
  nullable = false

  validation {
    condition     = contains(["ignore", "prepare", "replace"], var.interruption_handling.rebalance_action)
    error_message = "interruption_handling.rebalance_action must be ignore, prepare or replace."
  }

  validation {
    condition     = var.interruption_handling.unavailable_minutes >= 1 && var.interruption_handling.unavailable_minutes <= 10080
    error_message = "interruption_handling.unavailable_minutes must be between 1 and 10080 (one week)."
  }

  validation {
    condition     = var.interruption_handling.checkpoint_ssm_document == null || can(regex("^(arn:aws[a-z-]*:ssm:[a-z0-9-]+:[0-9]{12}:document/)?[a-zA-Z0-9_.-]{3,128}$", var.interruption_handling.checkpoint_ssm_document))
    error_message = "interruption_handling.checkpoint_ssm_document must be an SSM document name or ARN."
  }

  validation {
    condition     = var.interruption_handling.max_replacements >= 0 && var.interruption_handling.max_replacements <= 20 && floor(var.interruption_handling.max_replacements) == var.interruption_handling.max_replacements
    error_message = "interruption_handling.max_replacements must be a whole number from 0 to 20."
  }

  validation {
    condition     = can(regex("^(rate|cron)\\(.+\\)$", var.interruption_handling.self_check_schedule))
    error_message = "interruption_handling.self_check_schedule must be a rate() or cron() expression."
  }
}

################################################################################
# Interruptible workloads
################################################################################

variable "checkpoints" {
  description = "Checkpoint storage of interruptible workloads: `enabled` creates a KMS-encrypted bucket in every Region of `regions` (keys: regional_kms_key_arns, kms_key_arn at home, else the AWS managed aws/s3 key; a checkpoint naming an EBS snapshot needs a key in both Regions, as its copy is re-encrypted under them); `retention_days` expires checkpoints; `budget_seconds` is the time a stopped segment gets to checkpoint (CARBON_AWARE_CHECKPOINT_BUDGET_SECONDS; set the target's ECS container stopTimeout to it). Disabled, interruptible submissions are rejected."
  type = object({
    enabled        = optional(bool, true)
    retention_days = optional(number, 7)
    budget_seconds = optional(number, 120)
  })
  default = {}

  validation {
    condition     = var.checkpoints.retention_days >= 1 && var.checkpoints.retention_days <= 365 && floor(var.checkpoints.retention_days) == var.checkpoints.retention_days
    error_message = "checkpoints.retention_days must be a whole number of days from 1 to 365."
  }

  validation {
    condition     = var.checkpoints.budget_seconds >= 5 && var.checkpoints.budget_seconds <= 120
    error_message = "checkpoints.budget_seconds must be from 5 to 120 (ECS stops a container at most 120 s after SIGTERM)."
  }
}

variable "transfer_usd_per_gb" {
  description = "Price of moving one GB of checkpoint between Regions (USD), paid in an interruptible workload's plan for each move (and in grams at carbon_price_usd_per_tonne for follow_the_sun). The default is the price between most AWS Regions (AWS data transfer pricing)."
  type        = number
  default     = 0.02

  validation {
    condition     = var.transfer_usd_per_gb >= 0 && var.transfer_usd_per_gb <= 1
    error_message = "transfer_usd_per_gb must be from 0 to 1."
  }
}
