# Location shifting across three Regions: each workload starts now in whichever allowed Region has
# the cleanest grid, as an ECS task on that Region's cluster. State changes of the tasks come back
# to the control plane in the first Region through the regional stacks.

provider "aws" {
  region = var.regions[0]
}

module "carbon_aware" {
  source = "../../"

  name        = "carbon-aware-mr"
  regions     = var.regions
  home_region = var.regions[0]
  strategy    = "location_shift"
  signal_type = var.watttime_parameter_arn == null ? "average" : "marginal"

  provider_credentials = var.watttime_parameter_arn == null ? {} : {
    watttime = { ssm_parameter_arn = var.watttime_parameter_arn }
  }

  execution_targets = {
    ecs_cluster_arns         = [for t in values(var.ecs_targets) : t.cluster_arn]
    ecs_task_definition_arns = [for t in values(var.ecs_targets) : t.task_definition_arn]
    pass_role_arns           = distinct(flatten([for t in values(var.ecs_targets) : t.role_arns]))
  }

  create_alarm_topic = true

  tags = var.tags
}
