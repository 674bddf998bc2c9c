# Plans and mock-applies the root module (offline: mock_provider "aws") and checks the properties
# the issue promises. Run from the repository root: terraform test

mock_provider "aws" {
  mock_data "aws_partition" {
    defaults = { partition = "aws", dns_suffix = "amazonaws.com" }
  }
  mock_data "aws_caller_identity" {
    defaults = { account_id = "111122223333" }
  }
}

variables {
  name        = "ca-test"
  regions     = ["eu-west-1", "us-west-2"]
  home_region = "eu-west-1"
  tags        = { team = "platform", cost-center = "42" }
}

run "two_regions" {
  command = apply

  assert {
    condition     = toset(keys(module.regional)) == toset(["eu-west-1", "us-west-2"])
    error_message = "one regional stack per listed Region"
  }

  assert {
    condition     = alltrue([for r, m in module.regional : m.region == r && m.runner_event_bus_arn != null && m.target_state_rule_arn != null])
    error_message = "each regional stack lives in its own Region and forwards target state changes"
  }

  assert {
    condition = alltrue([for t in aws_dynamodb_table.this : (
      t.region == "eu-west-1" && t.billing_mode == "PAY_PER_REQUEST" && t.ttl[0].enabled &&
      t.point_in_time_recovery[0].enabled && t.server_side_encryption[0].enabled
    )])
    error_message = "tables: home Region, on-demand, TTL, PITR and SSE on"
  }

  assert {
    condition     = one(aws_dynamodb_table.this["workloads"].global_secondary_index).name == "due"
    error_message = "workloads table has the due index"
  }

  assert {
    condition     = alltrue([for m in module.function : m.architectures == tolist(["arm64"]) && m.log_group_retention_in_days == 30])
    error_message = "functions are arm64 with log retention set"
  }

  assert {
    condition     = length(module.function) == 8 && alltrue([for m in module.function : startswith(m.function_name, "ca-test-")])
    error_message = "seven functions (with the exporter), named after var.name"
  }

  assert {
    condition = alltrue(flatten([
      for p in concat([for m in module.function : m.role_policy], [for p in aws_iam_role_policy.service : p.policy]) : [
        for s in jsondecode(p).Statement : [for a in s.Action : !strcontains(a, "*")]
      ]
    ]))
    error_message = "no IAM action contains a wildcard"
  }

  assert {
    condition = alltrue(flatten([
      for m in module.function : [
        for s in jsondecode(m.role_policy).Statement : contains(s.Resource, "*") == contains(["Tracing", "VpcNetworkInterfaces", "PriceList", "InterruptedInstances", "DescribeSnapshots"], s.Sid)
      ]
    ]))
    error_message = "only X-Ray, VPC interface, Price List and DescribeSnapshots actions (which have no resource scoping) use Resource *"
  }

  assert {
    condition = [for p in jsondecode(local.target_state_event_pattern)["$or"] : p.detail if p.source == ["lambda"]] == [
      { requestPayload = { workload_id = [{ exists = true }] } }
    ]
    error_message = "Lambda destination results that carry a workload_id are forwarded to the control plane"
  }

  assert {
    condition     = [for s in jsondecode(module.function["executor"].role_policy).Statement : s.Sid if !contains(["Logs", "Tracing", "DeadLetterQueue"], s.Sid)] == ["Workloads", "CarryCheckpoints", "DispatchDeadLetters", "EventTargets"]
    error_message = "without an allow-list the executor may only update workloads, carry checkpoints, leave dead letters and reach the module's runner buses"
  }

  assert {
    condition     = alltrue([for r in aws_apigatewayv2_route.this : r.authorization_type == "AWS_IAM"]) && length(aws_apigatewayv2_route.this) == 4
    error_message = "every API route requires AWS_IAM auth"
  }

  assert {
    condition     = aws_cloudwatch_event_rule.periodic["monitor"].schedule_expression == "rate(15 minutes)" && aws_cloudwatch_event_rule.periodic["sweeper"].schedule_expression == "rate(5 minutes)"
    error_message = "monitor and sweeper run on their intervals"
  }

  assert {
    condition     = alltrue([for q in aws_sqs_queue.dlq : q.sqs_managed_sse_enabled]) && length(aws_sqs_queue.dlq) == 7
    error_message = "dead-letter queues for the five asynchronous functions and the exporter, encrypted"
  }

  assert {
    condition     = output.dashboard_url == "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#dashboards:name=ca-test"
    error_message = "dashboard URL"
  }

  assert {
    condition = alltrue([for r in flatten([
      [for r in aws_dynamodb_table.this : r.region], [for r in aws_sqs_queue.dlq : r.region],
      [for r in aws_cloudwatch_event_rule.periodic : r.region], [for r in aws_cloudwatch_event_target.periodic : r.region],
      [for r in aws_lambda_permission.periodic : r.region], [for r in aws_apigatewayv2_route.this : r.region],
      aws_scheduler_schedule_group.this.region, aws_cloudwatch_event_bus.control.region,
      aws_cloudwatch_event_rule.completion.region, aws_cloudwatch_event_target.completion.region,
      aws_lambda_permission.completion.region, aws_apigatewayv2_api.this[0].region,
      aws_cloudwatch_log_group.api[0].region, aws_apigatewayv2_stage.this[0].region,
      aws_apigatewayv2_integration.this[0].region, aws_lambda_permission.api[0].region,
    ]) : r == "eu-west-1"])
    error_message = "every home-Region resource is in the home Region"
  }

  assert {
    condition = alltrue([for t in flatten([
      [for r in aws_dynamodb_table.this : r.tags], [for r in aws_sqs_queue.dlq : r.tags],
      [for r in aws_cloudwatch_event_rule.periodic : r.tags], [for r in aws_iam_role.service : r.tags],
      aws_scheduler_schedule_group.this.tags, aws_cloudwatch_event_bus.control.tags,
      aws_cloudwatch_event_rule.completion.tags, aws_apigatewayv2_api.this[0].tags,
      aws_cloudwatch_log_group.api[0].tags, aws_apigatewayv2_stage.this[0].tags,
    ]) : t == tomap({ team = "platform", cost-center = "42" })])
    error_message = "every taggable root resource carries var.tags"
  }

  assert {
    condition     = alltrue([for t in aws_dynamodb_table.this : t.deletion_protection_enabled])
    error_message = "tables refuse deletion by default"
  }

  assert {
    condition     = alltrue([for r in aws_iam_role.service : r.path == "/" && r.permissions_boundary == null]) && length(aws_iam_role.service) == 2
    error_message = "two service roles, on the root path, without a boundary by default"
  }

  assert {
    condition     = aws_cloudwatch_event_bus.control.kms_key_identifier == null && local.functions["scheduler"].environment["CARBON_AWARE_SCHEDULE_KMS_KEY_ARN"] == null
    error_message = "without kms_key_arn the control bus and the schedules use AWS owned keys"
  }

  assert {
    condition = alltrue([for p in values(output.function_policies) : !strcontains(p, "xray:")]) && alltrue([
      for p in aws_iam_role_policy.service : !strcontains(p.policy, "xray:")
    ]) && local.common_environment["POWERTOOLS_TRACE_DISABLED"] == true
    error_message = "tracing is off by default: no X-Ray grant, Powertools tracer disabled"
  }

  assert {
    condition = (
      output.api_id == aws_apigatewayv2_api.this[0].id && output.api_execution_arn == aws_apigatewayv2_api.this[0].execution_arn &&
      output.dead_letter_queue_arns == { for k, q in aws_sqs_queue.dlq : k => q.arn } &&
      output.log_group_names == merge({ for k in keys(local.functions) : k => "/aws/lambda/ca-test-${k}" }, { api-access = "/aws/apigateway/ca-test" }) &&
      output.service_role_arns == { for k, r in aws_iam_role.service : k => r.arn } &&
      toset(keys(output.alarm_arns)) == toset(concat([for f in keys(local.functions) : "${f}-errors"], [for f in keys(aws_sqs_queue.dlq) : "${f}-dead-letters"]))
    )
    error_message = "outputs: API id and execution ARN, dead-letter queue ARNs, log groups, service roles, alarms"
  }

  assert {
    condition     = alltrue([for k, p in local.lambda_packages : p.filename == "./dist/arm64/${k}.zip" && p.s3_bucket == null])
    error_message = "by default each function deploys its own bundle from dist/<architecture>/"
  }
}

run "allow_list_and_options" {
  command = apply

  variables {
    regions            = ["us-east-1"]
    home_region        = null
    architecture       = "x86_64"
    lambda_package_dir = "dist/arm64" # the arm64 bundles: plans do not inspect them
    api_type           = "function_url"
    kms_key_arn        = "arn:aws:kms:us-east-1:111122223333:key/0000-1111"
    provider_credentials = {
      electricitymaps = { secret_arn = "arn:aws:secretsmanager:us-east-1:111122223333:secret:em-AbCdEf" }
      watttime        = { ssm_parameter_arn = "arn:aws:ssm:us-east-1:111122223333:parameter/watttime" }
    }
    execution_targets = {
      ecs_cluster_arns          = ["arn:aws:ecs:us-east-1:111122223333:cluster/jobs"]
      ecs_task_definition_arns  = ["arn:aws:ecs:us-east-1:111122223333:task-definition/etl:*"]
      pass_role_arns            = ["arn:aws:iam::111122223333:role/etl"]
      state_machine_arns        = ["arn:aws:states:us-east-1:111122223333:stateMachine:train"]
      batch_job_queue_arns      = ["arn:aws:batch:us-east-1:111122223333:job-queue/gpu"]
      batch_job_definition_arns = ["arn:aws:batch:us-east-1:111122223333:job-definition/train:*"]
    }
    running_grace_minutes    = 30
    run_timeout_minutes      = 120
    function_settings        = { scheduler = { memory_size = 2048, reserved_concurrent_executions = 2 } }
    provider_chain           = ["ukci", "electricitymaps", "profile"]
    forecast_refresh_minutes = 60
    ukci_regions             = { "eu-west-2" = 13, "us-east-1" = 1 }
  }

  assert {
    condition = {
      for k, v in local.functions["monitor"].environment : k => v
      if contains(["CARBON_AWARE_PROVIDER_CHAIN", "CARBON_AWARE_FORECAST_REFRESH_MINUTES", "CARBON_AWARE_FORECAST_HOURS", "CARBON_AWARE_EMISSION_FACTOR_TYPE", "CARBON_AWARE_UKCI_REGIONS"], k)
      } == {
      CARBON_AWARE_PROVIDER_CHAIN           = "ukci,electricitymaps,profile"
      CARBON_AWARE_FORECAST_REFRESH_MINUTES = 60
      CARBON_AWARE_FORECAST_HOURS           = 48
      CARBON_AWARE_EMISSION_FACTOR_TYPE     = "lifecycle"
      CARBON_AWARE_UKCI_REGIONS             = "eu-west-2=13,us-east-1=1"
    }
    error_message = "the monitor gets the carbon-data options in the form monitor_config parses"
  }

  assert {
    condition     = output.home_region == "us-east-1" && alltrue([for m in module.function : m.architectures == tolist(["x86_64"])])
    error_message = "home Region defaults to the first Region; architecture is configurable"
  }

  assert {
    condition = {
      for s in jsondecode(module.function["executor"].role_policy).Statement : s.Sid => s.Resource
      if contains(["EcsTargets", "PassTargetRoles", "StepFunctionsTargets"], s.Sid)
      } == {
      EcsTargets           = ["arn:aws:ecs:us-east-1:111122223333:task-definition/etl:*"]
      PassTargetRoles      = ["arn:aws:iam::111122223333:role/etl"]
      StepFunctionsTargets = ["arn:aws:states:us-east-1:111122223333:stateMachine:train"]
    }
    error_message = "the executor's permissions match the allow-list"
  }

  assert {
    condition = alltrue([for f in ["executor", "scheduler"] : length([
      for s in jsondecode(module.function[f].role_policy).Statement : s if contains(["EcsTargets", "PassTargetRoles", "StepFunctionsTargets"], s.Sid)
    ]) == 3])
    error_message = "the scheduler's sweeper may start the same targets as the executor"
  }

  assert {
    condition = {
      for s in jsondecode(module.function["scheduler"].role_policy).Statement : s.Sid => [s.Action, s.Resource, try(s.Condition, null)]
      if endswith(s.Sid, "RunStatus")
      } == {
      EcsRunStatus           = [["ecs:DescribeTasks"], ["arn:aws:ecs:us-east-1:111122223333:task/jobs/*"], { ArnEquals = { "ecs:cluster" = ["arn:aws:ecs:us-east-1:111122223333:cluster/jobs"] } }]
      BatchRunStatus         = [["batch:DescribeJobs"], ["*"], null]
      StepFunctionsRunStatus = [["states:DescribeExecution"], ["arn:aws:states:us-east-1:111122223333:execution:train:*"], null]
    }
    error_message = "the scheduler's watchdog may describe the runs of allow-listed targets only"
  }

  assert {
    condition = {
      for s in jsondecode(module.function["api"].role_policy).Statement : s.Sid => [s.Action, s.Resource, try(s.Condition, null)]
      if endswith(s.Sid, "RunStop")
      } == {
      EcsRunStop           = [["ecs:StopTask"], ["arn:aws:ecs:us-east-1:111122223333:task/jobs/*"], { ArnEquals = { "ecs:cluster" = ["arn:aws:ecs:us-east-1:111122223333:cluster/jobs"] } }]
      BatchRunStop         = [["batch:TerminateJob"], ["arn:aws:batch:us-east-1:111122223333:job/*"], null]
      StepFunctionsRunStop = [["states:StopExecution"], ["arn:aws:states:us-east-1:111122223333:execution:train:*"], null]
    }
    error_message = "cancel (api) may stop the runs of allow-listed targets only"
  }

  assert {
    condition = alltrue(flatten([
      for m in module.function : [
        for s in jsondecode(m.role_policy).Statement : contains(s.Resource, "*") == contains(["Tracing", "VpcNetworkInterfaces", "BatchRunStatus", "PriceList", "InterruptedInstances", "DescribeSnapshots"], s.Sid)
      ]
    ]))
    error_message = "only X-Ray, VPC interface, batch:DescribeJobs, Price List and DescribeSnapshots actions (which have no resource scoping) use Resource *"
  }

  assert {
    condition = alltrue([for f in ["scheduler", "executor"] : (
      local.functions[f].environment["CARBON_AWARE_RUNNING_GRACE_SECONDS"] == 1800 &&
      local.functions[f].environment["CARBON_AWARE_RUN_TIMEOUT_SECONDS"] == 7200
    )])
    error_message = "the dispatching functions get the running grace and run timeout in seconds"
  }

  assert {
    condition = {
      for s in jsondecode(module.function["monitor"].role_policy).Statement : s.Sid => s.Action[0]
      if contains(["ProviderSecrets", "ProviderParameters"], s.Sid)
    } == { ProviderSecrets = "secretsmanager:GetSecretValue", ProviderParameters = "ssm:GetParameter" }
    error_message = "the monitor may read exactly the referenced provider credentials"
  }

  assert {
    condition     = length(aws_lambda_function_url.api) == 1 && aws_lambda_function_url.api[0].authorization_type == "AWS_IAM" && length(aws_apigatewayv2_api.this) == 0
    error_message = "function URL with AWS_IAM auth instead of the HTTP API"
  }

  assert {
    condition     = alltrue([for t in aws_dynamodb_table.this : t.server_side_encryption[0].kms_key_arn == "arn:aws:kms:us-east-1:111122223333:key/0000-1111"])
    error_message = "tables use the customer managed key"
  }
}

run "rejects_empty_regions" {
  command = plan
  variables { regions = [] }
  expect_failures = [var.regions]
}

run "rejects_malformed_region" {
  command = plan
  variables { regions = ["eu-west-1", "Europe"] }
  expect_failures = [var.regions]
}

run "rejects_duplicate_region" {
  command = plan
  variables { regions = ["eu-west-1", "eu-west-1"] }
  expect_failures = [var.regions]
}

run "rejects_fast_refresh" {
  command = plan
  variables { refresh_interval_minutes = 4 }
  expect_failures = [var.refresh_interval_minutes]
}

run "rejects_slow_refresh" {
  command = plan
  variables { refresh_interval_minutes = 61 }
  expect_failures = [var.refresh_interval_minutes]
}

run "rejects_forecast_refresh_shorter_than_refresh" {
  command = plan
  variables {
    refresh_interval_minutes = 30
    forecast_refresh_minutes = 15
  }
  expect_failures = [aws_cloudwatch_event_rule.periodic]
}

run "rejects_dispatch_timeout_within_a_dispatcher_timeout" {
  command = plan
  variables { dispatch_timeout_seconds = 200 } # the scheduler (sweeper) may run 300 s
  expect_failures = [aws_cloudwatch_event_rule.periodic]
}

run "rejects_run_timeout_shorter_than_grace" {
  command = plan
  variables {
    running_grace_minutes = 120
    run_timeout_minutes   = 60
  }
  expect_failures = [aws_cloudwatch_event_rule.periodic]
}

run "rejects_zero_run_timeout" {
  command = plan
  variables { run_timeout_minutes = 0 }
  expect_failures = [var.run_timeout_minutes]
}

run "rejects_unknown_provider_in_chain" {
  command = plan
  variables { provider_chain = ["electricitymaps", "bing"] }
  expect_failures = [var.provider_chain]
}

run "rejects_repeated_provider_in_chain" {
  command = plan
  variables { provider_chain = ["ukci", "ukci"] }
  expect_failures = [var.provider_chain]
}

run "rejects_forecast_beyond_72_hours" {
  command = plan
  variables { forecast_hours = 96 }
  expect_failures = [var.forecast_hours]
}

run "rejects_unknown_emission_factor_type" {
  command = plan
  variables { emission_factor_type = "operational" }
  expect_failures = [var.emission_factor_type]
}

run "rejects_neso_region_out_of_range" {
  command = plan
  variables { ukci_regions = { "eu-west-2" = 18 } }
  expect_failures = [var.ukci_regions]
}

run "rejects_unknown_strategy" {
  command = plan
  variables { strategy = "greenest" }
  expect_failures = [var.strategy]
}

run "rejects_weights_not_summing_to_one" {
  command = plan
  variables { strategy_weights = { balanced = { carbon = 0.7, cost = 0.2 } } }
  expect_failures = [var.strategy_weights]
}

run "rejects_non_positive_thresholds" {
  command = plan
  variables {
    max_carbon_intensity     = 0
    replan_threshold_percent = -1
  }
  expect_failures = [var.max_carbon_intensity, var.replan_threshold_percent]
}

run "rejects_ambiguous_credentials" {
  command = plan
  variables {
    provider_credentials = {
      watttime = {
        secret_arn        = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:wt-AbCdEf"
        ssm_parameter_arn = "arn:aws:ssm:eu-west-1:111122223333:parameter/watttime"
      }
    }
  }
  expect_failures = [var.provider_credentials]
}

run "rejects_wildcard_target" {
  command = plan
  variables { execution_targets = { lambda_function_arns = ["arn:aws:lambda:eu-west-1:111122223333:function:*"] } }
  expect_failures = [var.execution_targets]
}
