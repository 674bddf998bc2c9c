################################################################################
# Spot fleets (issue #11): per fleet and Region a launch template, an Auto Scaling group and a
# carbon-aware scaling policy (modules/fleet); the fleet_optimizer function spreads each fleet's
# capacity across its Regions every few minutes. Nothing here exists while var.fleets is empty.
################################################################################

locals {
  create_fleets = length(var.fleets) > 0

  # CARBON_AWARE_FLEETS: fleet name -> its settings (modules/fleet output `settings`), as the
  # fleet_optimizer and the api parse them; tests/terraform/test_drift.py compares.
  fleets_environment = {
    CARBON_AWARE_FLEETS      = local.create_fleets ? jsonencode({ for k, m in module.fleet : k => m.settings }) : null
    CARBON_AWARE_FLEET_TABLE = try(aws_dynamodb_table.this["fleets"].name, null)
  }

  # Every fleet's group in every Region, for the optimizer's writes (Auto Scaling supports
  # group ARNs with the group name; the id part is unknown before creation).
  fleet_group_arns = flatten([
    for k, f in var.fleets : [
      for r in keys(f.regions) : "arn:${local.partition}:autoscaling:${r}:${local.account_id}:autoScalingGroup:*:autoScalingGroupName/${var.name}-${k}"
    ]
  ])

  fleet_optimizer_statements = [
    {
      # State (GetItem, conditional PutItem) and decisions (PutItem, Query): runtime.fleet.repository.
      Sid      = "FleetState"
      Effect   = "Allow"
      Action   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"]
      Resource = [try(aws_dynamodb_table.this["fleets"].arn, null)]
    },
    {
      # Spot prices and placement scores are cached beside the carbon signals, with the placement
      # score budget counter (carbon_aware.signals.prices.store; reads are Queries: SignalsRead).
      Sid      = "PriceCache"
      Effect   = "Allow"
      Action   = ["dynamodb:PutItem", "dynamodb:UpdateItem"]
      Resource = [aws_dynamodb_table.this["signals"].arn]
    },
    {
      # Describe calls of Auto Scaling have no resource-level permissions: "*" only.
      Sid      = "FleetGroupsRead"
      Effect   = "Allow"
      Action   = ["autoscaling:DescribeAutoScalingGroups"]
      Resource = ["*"]
    },
    {
      Sid      = "FleetGroupsWrite"
      Effect   = "Allow"
      Action   = ["autoscaling:PutScalingPolicy", "autoscaling:SetDesiredCapacity"]
      Resource = local.fleet_group_arns
    },
    {
      # None of these calls has resource-level permissions: "*" only. DescribeInstanceTypes gives
      # each type's vCPUs and memory, hence its power in the decisions' footprint.
      Sid      = "SpotSignals"
      Effect   = "Allow"
      Action   = ["ec2:DescribeInstanceTypes", "ec2:DescribeSpotPriceHistory", "ec2:GetSpotPlacementScores"]
      Resource = ["*"]
    },
  ]
}

module "fleet" {
  source   = "./modules/fleet"
  for_each = var.fleets

  name                        = "${var.name}-${each.key}"
  regions                     = each.value.regions
  architecture                = each.value.architecture
  instance_types              = each.value.instance_types
  instance_requirements       = each.value.instance_requirements
  image_ssm_parameter         = each.value.image_ssm_parameter
  user_data                   = each.value.user_data
  instance_profile_arn        = each.value.instance_profile_arn
  root_volume                 = each.value.root_volume
  launch_heartbeat_timeout    = each.value.launch_heartbeat_timeout
  terminate_heartbeat_timeout = each.value.terminate_heartbeat_timeout
  health_check_grace_period   = each.value.health_check_grace_period
  min_total                   = each.value.min_total
  max_total                   = each.value.max_total
  desired_total               = each.value.desired_total
  strategy                    = each.value.strategy
  hysteresis                  = each.value.hysteresis
  dwell_minutes               = each.value.dwell_minutes
  max_step                    = each.value.max_step
  move_cost_minutes           = each.value.move_cost_minutes
  lookahead_hours             = each.value.lookahead_hours
  renewable_threshold         = each.value.renewable_threshold
  scaling_tiers               = each.value.scaling_tiers

  tags = merge(var.tags, each.value.tags)
}

################################################################################
# Periodic invocation of the fleet optimizer
################################################################################

resource "aws_cloudwatch_event_rule" "fleet_optimizer" {
  count = local.create_fleets ? 1 : 0

  region              = local.home_region
  name                = "${var.name}-fleet-optimizer"
  description         = "Invokes ${local.function_names["fleet_optimizer"]} on ${var.fleet_optimizer_schedule}."
  schedule_expression = var.fleet_optimizer_schedule

  tags = var.tags
}

resource "aws_cloudwatch_event_target" "fleet_optimizer" {
  count = local.create_fleets ? 1 : 0

  region = local.home_region
  rule   = aws_cloudwatch_event_rule.fleet_optimizer[0].name
  arn    = module.function["fleet_optimizer"].function_arn
}

resource "aws_lambda_permission" "fleet_optimizer" {
  count = local.create_fleets ? 1 : 0

  region        = local.home_region
  statement_id  = "AllowEventBridge-fleet-optimizer"
  action        = "lambda:InvokeFunction"
  function_name = module.function["fleet_optimizer"].function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.fleet_optimizer[0].arn
}
