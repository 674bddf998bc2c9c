# Spot fleets in the root module (offline: mock_provider "aws"): nothing without fleets; with one,
# its groups, the fleet_optimizer function (environment per the runtime contract, least-privilege
# policy, schedule), the fleets table, the API routes and the api's read access.

mock_provider "aws" {
  mock_data "aws_partition" {
    defaults = { partition = "aws", dns_suffix = "amazonaws.com" }
  }
  mock_data "aws_caller_identity" {
    defaults = { account_id = "111122223333" }
  }
  mock_data "aws_ssm_parameter" {
    defaults = { insecure_value = "ami-0123456789abcdef0" }
  }
}

variables {
  name    = "ca-fleet"
  regions = ["eu-west-1", "eu-west-2", "eu-central-1"]
  tags    = { team = "platform" }
}

run "no_fleets_changes_nothing" {
  command = apply

  assert {
    condition = (
      length(module.fleet) == 0 && !contains(keys(aws_dynamodb_table.this), "fleets") &&
      !contains(keys(module.function), "fleet_optimizer") && length(aws_cloudwatch_event_rule.fleet_optimizer) == 0 &&
      length(aws_apigatewayv2_route.this) == 4 && length(aws_sqs_queue.dlq) == 7 &&
      length([for k, v in local.functions["api"].environment : k if strcontains(k, "FLEET") && v != null]) == 0 &&
      !strcontains(module.function["api"].role_policy, "Fleet")
    )
    error_message = "without fleets: no fleet, table, function, schedule, dead-letter queue, route or api setting"
  }
}

run "one_fleet_over_three_regions" {
  command = apply

  variables {
    fleets = {
      web = {
        regions = {
          "eu-west-1"    = { subnet_ids = ["subnet-a"], security_group_ids = ["sg-1"], min_share = 0.2, max_share = 0.5 }
          "eu-west-2"    = { subnet_ids = ["subnet-b"], security_group_ids = ["sg-2"], max_share = 0.5 }
          "eu-central-1" = { subnet_ids = ["subnet-c"], security_group_ids = ["sg-3"], max_share = 0.5 }
        }
        instance_types = ["m7g.large", "m6g.large", "c7g.xlarge"]
        min_total      = 3
        max_total      = 12
        desired_total  = 6
        strategy       = "follow_the_sun"
        dwell_minutes  = 90
        max_step       = 2
        tags           = { app = "web" }
      }
    }
  }

  assert {
    condition     = module.fleet["web"].group_names == { "eu-west-1" = "ca-fleet-web", "eu-west-2" = "ca-fleet-web", "eu-central-1" = "ca-fleet-web" }
    error_message = "a group named <name>-<fleet> in each fleet Region"
  }

  assert {
    condition     = alltrue([for r, g in module.fleet["web"].group_names : g == output.fleet_group_names["web"][r]]) && length(output.fleet_launch_template_ids["web"]) == 3 && length(output.fleet_group_arns["web"]) == 3
    error_message = "outputs: group names, ARNs and launch template ids per fleet and Region"
  }

  assert {
    condition = jsondecode(local.functions["fleet_optimizer"].environment["CARBON_AWARE_FLEETS"]) == {
      web = {
        regions             = ["eu-central-1", "eu-west-1", "eu-west-2"]
        groups              = { "eu-central-1" = "ca-fleet-web", "eu-west-1" = "ca-fleet-web", "eu-west-2" = "ca-fleet-web" }
        instance_types      = ["m7g.large", "m6g.large", "c7g.xlarge"]
        min_total           = 3
        max_total           = 12
        desired_total       = 6
        min_share           = { "eu-central-1" = 0, "eu-west-1" = 0.2, "eu-west-2" = 0 }
        max_share           = { "eu-central-1" = 0.5, "eu-west-1" = 0.5, "eu-west-2" = 0.5 }
        strategy            = "follow_the_sun"
        hysteresis          = 0.05
        dwell_minutes       = 90
        max_step            = 2
        move_cost_minutes   = 30
        lookahead_hours     = 12
        renewable_threshold = 0.5
        scaling_tiers       = [{ below = 100, target = 60 }, { below = 200, target = 75 }, { below = null, target = 90 }]
        scaling_policy_name = "ca-fleet-web-carbon-utilisation"
      }
    }
    error_message = "CARBON_AWARE_FLEETS carries every fleet setting, defaults filled in by modules/fleet"
  }

  assert {
    condition = jsonencode({
      for k, v in local.functions["fleet_optimizer"].environment : k => v
      if contains(["CARBON_AWARE_FLEET_TABLE", "CARBON_AWARE_SIGNALS_TABLE", "CARBON_AWARE_PLACEMENT_SCORE_DAILY_BUDGET", "CARBON_AWARE_SIGNAL_TYPE"], k)
      }) == jsonencode({
      CARBON_AWARE_FLEET_TABLE                  = "ca-fleet-fleets"
      CARBON_AWARE_SIGNALS_TABLE                = "ca-fleet-signals"
      CARBON_AWARE_PLACEMENT_SCORE_DAILY_BUDGET = 40
      CARBON_AWARE_SIGNAL_TYPE                  = "average"
    })
    error_message = "the optimizer gets the fleets table, the signals table, the placement score budget and the signal type"
  }

  assert {
    condition = (
      local.functions["api"].environment["CARBON_AWARE_FLEET_TABLE"] == "ca-fleet-fleets" &&
      local.functions["api"].environment["CARBON_AWARE_FLEETS"] == local.functions["fleet_optimizer"].environment["CARBON_AWARE_FLEETS"]
    )
    error_message = "the api reads the same fleets and table"
  }

  assert {
    condition = {
      for s in jsondecode(module.function["fleet_optimizer"].role_policy).Statement : s.Sid => [s.Action, s.Resource]
      if !contains(["Logs", "Tracing", "DeadLetterQueue"], s.Sid)
      } == {
      FleetState      = [["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"], [aws_dynamodb_table.this["fleets"].arn]]
      PriceCache      = [["dynamodb:PutItem", "dynamodb:UpdateItem"], [aws_dynamodb_table.this["signals"].arn]]
      SignalsRead     = [["dynamodb:Query"], [aws_dynamodb_table.this["signals"].arn]]
      FleetGroupsRead = [["autoscaling:DescribeAutoScalingGroups"], ["*"]]
      SpotSignals     = [["ec2:DescribeInstanceTypes", "ec2:DescribeSpotPriceHistory", "ec2:GetSpotPlacementScores"], ["*"]]
      FleetGroupsWrite = [["autoscaling:PutScalingPolicy", "autoscaling:SetDesiredCapacity"], [
        "arn:aws:autoscaling:eu-central-1:111122223333:autoScalingGroup:*:autoScalingGroupName/ca-fleet-web",
        "arn:aws:autoscaling:eu-west-1:111122223333:autoScalingGroup:*:autoScalingGroupName/ca-fleet-web",
        "arn:aws:autoscaling:eu-west-2:111122223333:autoScalingGroup:*:autoScalingGroupName/ca-fleet-web",
      ]]
    }
    error_message = "least privilege: writes only on the fleet's groups and tables; \"*\" only for calls without resource-level permissions"
  }

  assert {
    condition = alltrue(flatten([
      for m in module.function : [for s in jsondecode(m.role_policy).Statement : [for a in s.Action : !strcontains(a, "*")]]
    ]))
    error_message = "no IAM action contains a wildcard"
  }

  assert {
    condition = [for s in jsondecode(module.function["api"].role_policy).Statement : [s.Action, s.Resource] if s.Sid == "FleetsRead"] == [
      [["dynamodb:GetItem", "dynamodb:Query"], [aws_dynamodb_table.this["fleets"].arn]]
    ]
    error_message = "the api may only read the fleets table"
  }

  assert {
    condition = (
      aws_dynamodb_table.this["fleets"].hash_key == "fleet" && aws_dynamodb_table.this["fleets"].range_key == "sk" &&
      aws_dynamodb_table.this["fleets"].ttl[0].attribute_name == "expires_at" && length(aws_dynamodb_table.this["fleets"].global_secondary_index) == 0
    )
    error_message = "fleets table: fleet/sk keys, TTL on expires_at, no index"
  }

  assert {
    condition = (
      aws_cloudwatch_event_rule.fleet_optimizer[0].schedule_expression == "rate(5 minutes)" &&
      aws_cloudwatch_event_target.fleet_optimizer[0].arn == module.function["fleet_optimizer"].function_arn &&
      aws_lambda_permission.fleet_optimizer[0].source_arn == aws_cloudwatch_event_rule.fleet_optimizer[0].arn &&
      module.function["fleet_optimizer"].function_name == "ca-fleet-fleet_optimizer" && contains(keys(aws_sqs_queue.dlq), "fleet_optimizer")
    )
    error_message = "the optimizer runs every 5 minutes, with a dead-letter queue"
  }

  assert {
    condition = (
      toset([for r in aws_apigatewayv2_route.this : r.route_key if startswith(r.route_key, "GET /fleets")]) == toset(["GET /fleets", "GET /fleets/{fleet}", "GET /fleets/{fleet}/decisions"]) &&
      alltrue([for r in aws_apigatewayv2_route.this : r.authorization_type == "AWS_IAM"])
    )
    error_message = "three fleet routes, AWS_IAM auth"
  }

  assert {
    condition     = local.functions["fleet_optimizer"].handler == "carbon_aware.runtime.handlers.fleet_optimizer.handler"
    error_message = "the fleet_optimizer handler of the runtime contract"
  }
}

run "custom_schedule_and_budget" {
  command = plan

  variables {
    fleet_optimizer_schedule     = "rate(10 minutes)"
    placement_score_daily_budget = 20
    fleets = {
      batch = {
        regions        = { "eu-west-1" = { subnet_ids = ["subnet-a"], security_group_ids = ["sg-1"] } }
        architecture   = "x86_64"
        instance_types = ["m7i.large", "m6i.large", "c7i.xlarge"]
        max_total      = 4
        desired_total  = 2
      }
    }
  }

  assert {
    condition     = aws_cloudwatch_event_rule.fleet_optimizer[0].schedule_expression == "rate(10 minutes)" && local.functions["fleet_optimizer"].environment["CARBON_AWARE_PLACEMENT_SCORE_DAILY_BUDGET"] == 20
    error_message = "schedule and placement score budget come from the inputs"
  }
}

run "rejects_fleet_region_outside_regions" {
  command = plan
  variables {
    fleets = {
      web = {
        regions        = { "us-east-1" = { subnet_ids = ["subnet-a"], security_group_ids = ["sg-1"] } }
        instance_types = ["m7g.large", "m6g.large", "c7g.xlarge"]
        max_total      = 4
        desired_total  = 2
      }
    }
  }
  expect_failures = [var.fleets]
}

run "rejects_bad_fleet_name" {
  command = plan
  variables {
    fleets = {
      "Web Fleet" = {
        regions        = { "eu-west-1" = { subnet_ids = ["subnet-a"], security_group_ids = ["sg-1"] } }
        instance_types = ["m7g.large", "m6g.large", "c7g.xlarge"]
        max_total      = 4
        desired_total  = 2
      }
    }
  }
  expect_failures = [var.fleets]
}

run "rejects_bad_schedule" {
  command = plan
  variables { fleet_optimizer_schedule = "every 5 minutes" }
  expect_failures = [var.fleet_optimizer_schedule]
}
