# The sub-modules on their own (offline: mock_provider "aws"): every resource lands in the Region it
# is given and carries the tags. Run from the repository root: terraform test

mock_provider "aws" {}

run "function_with_every_option" {
  command = apply

  module {
    source = "./modules/function"
  }

  variables {
    region                    = "eu-central-1"
    function_name             = "ca-test-scheduler"
    handler                   = "carbon_aware.runtime.handlers.scheduler.handler"
    filename                  = "dist/arm64/scheduler.zip"
    source_code_hash          = "c2hhMjU2"
    kms_key_arn               = "arn:aws:kms:eu-central-1:111122223333:key/0000-1111"
    vpc_config                = { subnet_ids = ["subnet-0a"], security_group_ids = ["sg-0b"] }
    attach_dead_letter_queue  = true
    dead_letter_target_arn    = "arn:aws:sqs:eu-central-1:111122223333:ca-test-scheduler-dlq"
    dead_letter_queue_name    = "ca-test-scheduler-dlq"
    create_alarms             = true
    tracing_enabled           = true
    code_signing_config_arn   = "arn:aws:lambda:eu-central-1:111122223333:code-signing-config:csc-0123456789abcdef0"
    role_path                 = "/carbon-aware/"
    role_permissions_boundary = "arn:aws:iam::111122223333:policy/boundary"
    tags                      = { team = "platform" }
  }

  assert {
    condition = alltrue([for r in concat(
      [aws_cloudwatch_log_group.this[0].region, aws_lambda_function.this[0].region, aws_lambda_function_event_invoke_config.this[0].region],
      [for a in aws_cloudwatch_metric_alarm.this : a.region],
    ) : r == "eu-central-1"])
    error_message = "log group, function, invoke config and alarms are in the given Region"
  }

  assert {
    condition = alltrue([for t in concat(
      [aws_cloudwatch_log_group.this[0].tags, aws_iam_role.this[0].tags, aws_lambda_function.this[0].tags],
      [for a in aws_cloudwatch_metric_alarm.this : a.tags],
    ) : t == tomap({ team = "platform" })]) && length(aws_cloudwatch_metric_alarm.this) == 2
    error_message = "log group, role, function and both alarms carry the tags"
  }

  assert {
    condition     = aws_iam_role.this[0].path == "/carbon-aware/" && aws_iam_role.this[0].permissions_boundary == "arn:aws:iam::111122223333:policy/boundary"
    error_message = "the role gets the path and the permissions boundary"
  }

  assert {
    condition     = aws_lambda_function.this[0].code_signing_config_arn == "arn:aws:lambda:eu-central-1:111122223333:code-signing-config:csc-0123456789abcdef0"
    error_message = "the function uses the code signing config"
  }

  assert {
    condition     = one(aws_lambda_function.this[0].tracing_config).mode == "Active" && contains([for s in jsondecode(local.policy).Statement : s.Sid], "Tracing")
    error_message = "tracing on: active tracing and the X-Ray grant"
  }

  assert {
    condition     = one(aws_lambda_function.this[0].vpc_config).subnet_ids == toset(["subnet-0a"]) && contains([for s in jsondecode(local.policy).Statement : s.Sid], "VpcNetworkInterfaces")
    error_message = "vpc_config attaches the function to the subnets and grants the network interface actions"
  }

  assert {
    condition     = aws_lambda_function.this[0].filename == "dist/arm64/scheduler.zip" && aws_lambda_function.this[0].s3_bucket == null
    error_message = "a local package deploys from its file"
  }
}

run "function_with_an_existing_role_from_s3" {
  command = apply

  module {
    source = "./modules/function"
  }

  variables {
    region            = "eu-central-1"
    function_name     = "ca-test-api"
    handler           = "carbon_aware.runtime.handlers.api.handler"
    s3_bucket         = "artifacts"
    s3_key            = "carbon-aware/api.zip"
    s3_object_version = "v42"
    create_role       = false
    role_arn          = "arn:aws:iam::111122223333:role/platform/ca-api"
  }

  assert {
    condition     = length(aws_iam_role.this) == 0 && length(aws_iam_role_policy.this) == 0 && aws_lambda_function.this[0].role == "arn:aws:iam::111122223333:role/platform/ca-api"
    error_message = "an existing role is used as it is: nothing created or attached"
  }

  assert {
    condition     = output.role_arn == "arn:aws:iam::111122223333:role/platform/ca-api" && output.role_policy == null && strcontains(output.policy_json, "logs:PutLogEvents")
    error_message = "the role output is the passed role; policy_json says what to grant it"
  }

  assert {
    condition = (
      aws_lambda_function.this[0].s3_bucket == "artifacts" && aws_lambda_function.this[0].s3_key == "carbon-aware/api.zip" &&
      aws_lambda_function.this[0].s3_object_version == "v42" && aws_lambda_function.this[0].filename == null
    )
    error_message = "the package comes from the S3 object version"
  }

  assert {
    condition     = length(aws_lambda_function.this[0].tracing_config) == 0 && !strcontains(output.policy_json, "xray:")
    error_message = "tracing off by default: no active tracing, no X-Ray grant"
  }

  assert {
    condition     = length(aws_cloudwatch_metric_alarm.this) == 0 && length(aws_lambda_function_event_invoke_config.this) == 0 && length(aws_lambda_function.this[0].vpc_config) == 0
    error_message = "no alarms, invoke config or VPC unless asked for"
  }
}

run "function_not_created" {
  command = apply

  module {
    source = "./modules/function"
  }

  variables {
    create        = false
    function_name = "ca-test-api"
    handler       = "carbon_aware.runtime.handlers.api.handler"
    filename      = "dist/arm64/api.zip"
  }

  assert {
    condition     = length(aws_lambda_function.this) + length(aws_iam_role.this) + length(aws_cloudwatch_log_group.this) == 0 && output.role_arn == null
    error_message = "create = false creates nothing"
  }
}

run "function_rejects_two_package_sources" {
  command = plan

  module {
    source = "./modules/function"
  }

  variables {
    function_name = "ca-test-api"
    handler       = "carbon_aware.runtime.handlers.api.handler"
    filename      = "dist/arm64/api.zip"
    s3_bucket     = "artifacts"
    s3_key        = "api.zip"
  }

  expect_failures = [aws_lambda_function.this]
}

run "function_rejects_a_missing_role" {
  command = plan

  module {
    source = "./modules/function"
  }

  variables {
    function_name = "ca-test-api"
    handler       = "carbon_aware.runtime.handlers.api.handler"
    filename      = "dist/arm64/api.zip"
    create_role   = false
  }

  expect_failures = [aws_lambda_function.this]
}

run "function_rejects_a_bad_role_path" {
  command = plan

  module {
    source = "./modules/function"
  }

  variables {
    function_name = "ca-test-api"
    handler       = "carbon_aware.runtime.handlers.api.handler"
    filename      = "dist/arm64/api.zip"
    role_path     = "carbon-aware"
  }

  expect_failures = [var.role_path]
}

run "regional_stack" {
  command = apply

  module {
    source = "./modules/regional"
  }

  variables {
    region                     = "ap-southeast-2"
    name                       = "ca-test"
    control_event_bus_arn      = "arn:aws:events:eu-west-1:111122223333:event-bus/ca-test-control"
    event_forwarder_role_arn   = "arn:aws:iam::111122223333:role/ca-test-event-forwarder"
    target_state_event_pattern = jsonencode({ source = ["aws.ecs"] })
    kms_key_arn                = "arn:aws:kms:ap-southeast-2:111122223333:key/2222"
    tags                       = { team = "platform" }
  }

  assert {
    condition = alltrue([for r in [
      aws_cloudwatch_event_rule.target_state[0].region, aws_cloudwatch_event_target.target_state[0].region, aws_cloudwatch_event_bus.runner[0].region,
    ] : r == "ap-southeast-2"])
    error_message = "rule, target and runner bus are in the stack's Region"
  }

  assert {
    condition     = alltrue([for t in [aws_cloudwatch_event_rule.target_state[0].tags, aws_cloudwatch_event_bus.runner[0].tags] : t == tomap({ team = "platform" })])
    error_message = "rule and runner bus carry the tags"
  }

  assert {
    condition     = aws_cloudwatch_event_bus.runner[0].kms_key_identifier == "arn:aws:kms:ap-southeast-2:111122223333:key/2222"
    error_message = "the runner bus is encrypted with the Region's key"
  }

  assert {
    condition     = aws_cloudwatch_event_target.target_state[0].arn == "arn:aws:events:eu-west-1:111122223333:event-bus/ca-test-control" && aws_cloudwatch_event_target.target_state[0].role_arn == "arn:aws:iam::111122223333:role/ca-test-event-forwarder"
    error_message = "target state changes go to the control bus with the forwarder role"
  }
}

run "regional_stack_without_runner_bus" {
  command = apply

  module {
    source = "./modules/regional"
  }

  variables {
    region                     = "ap-southeast-2"
    name                       = "ca-test"
    control_event_bus_arn      = "arn:aws:events:eu-west-1:111122223333:event-bus/ca-test-control"
    event_forwarder_role_arn   = "arn:aws:iam::111122223333:role/ca-test-event-forwarder"
    target_state_event_pattern = jsonencode({ source = ["aws.ecs"] })
    create_runner_event_bus    = false
  }

  assert {
    condition     = length(aws_cloudwatch_event_bus.runner) == 0 && output.runner_event_bus_arn == null && length(aws_cloudwatch_event_rule.target_state) == 1
    error_message = "create_runner_event_bus = false: forwarding only"
  }
}

run "regional_stack_not_created" {
  command = apply

  module {
    source = "./modules/regional"
  }

  variables {
    create                     = false
    region                     = "ap-southeast-2"
    name                       = "ca-test"
    control_event_bus_arn      = "arn:aws:events:eu-west-1:111122223333:event-bus/ca-test-control"
    event_forwarder_role_arn   = "arn:aws:iam::111122223333:role/ca-test-event-forwarder"
    target_state_event_pattern = jsonencode({ source = ["aws.ecs"] })
  }

  assert {
    condition     = length(aws_cloudwatch_event_rule.target_state) + length(aws_cloudwatch_event_target.target_state) + length(aws_cloudwatch_event_bus.runner) == 0
    error_message = "create = false creates nothing"
  }
}

run "dashboard_in_its_region" {
  command = apply

  module {
    source = "./modules/dashboard"
  }

  variables {
    region         = "eu-west-3"
    dashboard_name = "ca-test"
    function_names = ["ca-test-api"]
  }

  assert {
    condition     = aws_cloudwatch_dashboard.this[0].region == "eu-west-3" && output.dashboard_url == "https://eu-west-3.console.aws.amazon.com/cloudwatch/home?region=eu-west-3#dashboards:name=ca-test"
    error_message = "dashboard in its Region, commercial console URL"
  }
}

run "dashboard_not_created" {
  command = apply

  module {
    source = "./modules/dashboard"
  }

  variables {
    create         = false
    region         = "eu-west-3"
    dashboard_name = "ca-test"
  }

  assert {
    condition     = length(aws_cloudwatch_dashboard.this) == 0 && output.dashboard_url == null
    error_message = "create = false creates nothing"
  }
}
