# Options a platform team sets to fit the module into its estate: IAM path, boundary and existing
# roles, customer managed keys, code signing, packages from S3, tracing, create_* flags, other
# partitions; and the validation of each. Run from the repository root: terraform test

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
}

run "boundary_path_keys_signing_tracing" {
  command = apply

  variables {
    role_path                 = "/carbon-aware/"
    role_permissions_boundary = "arn:aws:iam::111122223333:policy/boundary"
    kms_key_arn               = "arn:aws:kms:eu-west-1:111122223333:key/home"
    regional_kms_key_arns     = { "us-west-2" = "arn:aws:kms:us-west-2:111122223333:key/west" }
    code_signing_config_arn   = "arn:aws:lambda:eu-west-1:111122223333:code-signing-config:csc-0123456789abcdef0"
    tracing_enabled           = true
    workload_ttl_days         = 30
    region_zones              = { "eu-west-1" = "GB", "us-west-2" = "US-CAL-CISO" }
  }

  assert {
    condition     = alltrue([for r in aws_iam_role.service : r.path == "/carbon-aware/" && r.permissions_boundary == "arn:aws:iam::111122223333:policy/boundary"])
    error_message = "the service roles get the path and the boundary"
  }

  assert {
    condition     = aws_cloudwatch_event_bus.control.kms_key_identifier == "arn:aws:kms:eu-west-1:111122223333:key/home"
    error_message = "the control bus uses the customer managed key"
  }

  assert {
    condition = (
      local.functions["scheduler"].environment["CARBON_AWARE_SCHEDULE_KMS_KEY_ARN"] == "arn:aws:kms:eu-west-1:111122223333:key/home" &&
      contains(jsondecode(aws_iam_role_policy.service["schedules"].policy).Statement, {
        Sid = "DecryptSchedules", Effect = "Allow", Action = ["kms:Decrypt"], Resource = ["arn:aws:kms:eu-west-1:111122223333:key/home"]
      })
    )
    error_message = "schedules are created with the key, and EventBridge Scheduler's role may decrypt them"
  }

  assert {
    condition     = local.common_environment["POWERTOOLS_TRACE_DISABLED"] == false && alltrue([for p in values(output.function_policies) : strcontains(p, "xray:PutTraceSegments")])
    error_message = "tracing on: Powertools tracer enabled and every function may send segments"
  }

  assert {
    condition     = local.workload_environment["CARBON_AWARE_WORKLOAD_TTL_DAYS"] == 30
    error_message = "workload_ttl_days reaches the functions that finish workloads"
  }

  assert {
    condition = alltrue([for f in ["monitor", "scheduler", "completion"] :
    jsondecode(local.functions[f].environment["CARBON_AWARE_REGION_ZONES"]) == { "eu-west-1" = "GB", "us-west-2" = "US-CAL-CISO" }])
    error_message = "region_zones reaches every function that reads the catalog"
  }
}

run "existing_roles" {
  command = apply

  variables {
    function_role_arns = { api = "arn:aws:iam::111122223333:role/platform/ca-api" }
    service_role_arns = {
      schedules         = "arn:aws:iam::111122223333:role/platform/ca-schedules"
      "event-forwarder" = "arn:aws:iam::111122223333:role/platform/ca-forwarder"
    }
  }

  assert {
    condition     = length(aws_iam_role.service) == 0 && length(aws_iam_role_policy.service) == 0
    error_message = "passed service roles replace the module's, and nothing is attached to them"
  }

  assert {
    condition = (
      output.service_role_arns["schedules"] == "arn:aws:iam::111122223333:role/platform/ca-schedules" &&
      local.functions["scheduler"].environment["CARBON_AWARE_SCHEDULER_ROLE_ARN"] == "arn:aws:iam::111122223333:role/platform/ca-schedules" &&
      one([for s in local.functions["scheduler"].statements : s.Resource if s.Sid == "PassSchedulerRole"]) == ["arn:aws:iam::111122223333:role/platform/ca-schedules"]
    )
    error_message = "the scheduler creates schedules with, and may pass, the given schedules role"
  }

  assert {
    condition     = output.function_role_arns["api"] == "arn:aws:iam::111122223333:role/platform/ca-api" && output.function_role_arns["monitor"] != "arn:aws:iam::111122223333:role/platform/ca-api"
    error_message = "the api uses the given role; the others get their own"
  }

  assert {
    condition     = strcontains(output.service_role_policies["schedules"], "lambda:InvokeFunction") && strcontains(output.function_policies["api"], "dynamodb:PutItem")
    error_message = "the policies to grant the passed roles are outputs"
  }
}

run "packages_from_s3" {
  command = apply

  variables {
    lambda_package_s3 = {
      bucket          = "artifacts-111122223333"
      key_prefix      = "carbon-aware/1.2.0/"
      object_versions = { api = "v42" }
    }
  }

  assert {
    condition = (
      local.lambda_packages["api"].s3_bucket == "artifacts-111122223333" && local.lambda_packages["api"].s3_key == "carbon-aware/1.2.0/api.zip" &&
      local.lambda_packages["api"].s3_object_version == "v42" && local.lambda_packages["api"].filename == null &&
      local.lambda_packages["monitor"].s3_key == "carbon-aware/1.2.0/monitor.zip" && local.lambda_packages["monitor"].s3_object_version == null
    )
    error_message = "each function's object is <key_prefix><function>.zip, pinned where a version is given"
  }
}

run "create_flags_off" {
  command = apply

  variables {
    create_alarms             = false
    create_dashboard          = false
    create_runner_event_buses = false
    api_type                  = "none"
    deletion_protection       = false
    vpc_config                = { subnet_ids = ["subnet-0a"], security_group_ids = ["sg-0b"] }
  }

  assert {
    condition     = output.alarm_arns == {} && output.dashboard_url == null && output.runner_event_bus_arns == {} && output.alarm_topic_arn == null
    error_message = "no alarms, dashboard, runner buses or topic"
  }

  assert {
    condition     = output.api_endpoint == null && output.api_id == null && length(aws_lambda_function_url.api) == 0 && !contains(keys(output.log_group_names), "api-access")
    error_message = "api_type = none: no API"
  }

  assert {
    condition     = alltrue([for t in aws_dynamodb_table.this : !t.deletion_protection_enabled])
    error_message = "deletion_protection = false reaches the tables"
  }

  assert {
    condition     = alltrue([for p in values(output.function_policies) : strcontains(p, "ec2:CreateNetworkInterface")])
    error_message = "vpc_config reaches every function"
  }
}

run "alarm_topic" {
  command = apply

  variables {
    create_alarm_topic = true
    tags               = { team = "platform" }
  }

  assert {
    condition     = length(aws_sns_topic.alarms) == 1 && aws_sns_topic.alarms[0].region == "eu-west-1" && aws_sns_topic.alarms[0].tags == tomap({ team = "platform" }) && output.alarm_topic_arn == aws_sns_topic.alarms[0].arn
    error_message = "create_alarm_topic: a tagged topic in the home Region that the alarms notify"
  }
}

run "china_partition" {
  command = apply

  override_data {
    target = data.aws_partition.current
    values = { partition = "aws-cn", dns_suffix = "amazonaws.com.cn" }
  }

  variables {
    regions     = ["cn-north-1"]
    home_region = null
  }

  assert {
    condition     = output.dashboard_url == "https://console.amazonaws.cn/cloudwatch/home?region=cn-north-1#dashboards:name=ca-test"
    error_message = "the console URL of aws-cn"
  }

  assert {
    condition     = startswith(local.function_arns["executor"], "arn:aws-cn:lambda:cn-north-1:")
    error_message = "ARNs in the partition"
  }

  assert {
    condition = (
      local.functions["monitor"].environment["CARBON_AWARE_PRICE_LIST_REGION"] == null &&
      !strcontains(module.function["monitor"].role_policy, "pricing:")
    )
    error_message = "no Price List API outside the aws partition: no price refresh, no grant"
  }
}

run "price_refresh" {
  command = apply

  variables {
    priced_instance_types = ["m7g.large", "c7g.xlarge"]
  }

  assert {
    condition = (
      local.functions["monitor"].environment["CARBON_AWARE_PRICE_LIST_REGION"] == "eu-central-1" &&
      local.functions["monitor"].environment["CARBON_AWARE_PRICED_INSTANCE_TYPES"] == "m7g.large,c7g.xlarge" &&
      contains([for s in jsondecode(module.function["monitor"].role_policy).Statement : s.Sid if s.Action == ["pricing:GetProducts"] && s.Resource == ["*"]], "PriceList")
    )
    error_message = "the monitor refreshes prices from the nearest Price List endpoint, with the grant"
  }
}

run "price_refresh_off" {
  command = apply

  variables {
    refresh_prices        = false
    priced_instance_types = ["m7g.large"]
  }

  assert {
    condition = (
      local.functions["monitor"].environment["CARBON_AWARE_PRICE_LIST_REGION"] == null &&
      local.functions["monitor"].environment["CARBON_AWARE_PRICED_INSTANCE_TYPES"] == null &&
      !strcontains(module.function["monitor"].role_policy, "pricing:")
    )
    error_message = "refresh_prices = false: no refresh and no grant"
  }
}

run "rejects_bad_priced_instance_type" {
  command = plan

  variables {
    priced_instance_types = ["m7g large"]
  }

  expect_failures = [var.priced_instance_types]
}

run "govcloud_partition" {
  command = apply

  override_data {
    target = data.aws_partition.current
    values = { partition = "aws-us-gov", dns_suffix = "amazonaws.com" }
  }

  variables {
    regions     = ["us-gov-west-1"]
    home_region = null
  }

  assert {
    condition     = output.dashboard_url == "https://console.amazonaws-us-gov.com/cloudwatch/home?region=us-gov-west-1#dashboards:name=ca-test"
    error_message = "the console URL of aws-us-gov"
  }
}

run "rejects_unknown_zone_shape" {
  command = plan
  variables { region_zones = { "eu-west-1" = "great britain" } }
  expect_failures = [var.region_zones]
}

run "rejects_zone_for_a_non_region" {
  command = plan
  variables { region_zones = { "Europe" = "DE" } }
  expect_failures = [var.region_zones]
}

run "rejects_non_positive_workload_ttl" {
  command = plan
  variables { workload_ttl_days = 0 }
  expect_failures = [var.workload_ttl_days]
}

run "rejects_bad_role_path" {
  command = plan
  variables { role_path = "carbon-aware" }
  expect_failures = [var.role_path]
}

run "rejects_boundary_that_is_no_policy" {
  command = plan
  variables { role_permissions_boundary = "arn:aws:iam::111122223333:role/boundary" }
  expect_failures = [var.role_permissions_boundary]
}

run "rejects_role_for_unknown_function" {
  command = plan
  variables { function_role_arns = { worker = "arn:aws:iam::111122223333:role/worker" } }
  expect_failures = [var.function_role_arns]
}

run "rejects_unknown_service_role" {
  command = plan
  variables { service_role_arns = { scheduler = "arn:aws:iam::111122223333:role/s" } }
  expect_failures = [var.service_role_arns]
}

run "rejects_key_from_another_region" {
  command = plan
  variables { regional_kms_key_arns = { "us-west-2" = "arn:aws:kms:eu-west-1:111122223333:key/home" } }
  expect_failures = [var.regional_kms_key_arns]
}

run "rejects_malformed_code_signing_config" {
  command = plan
  variables { code_signing_config_arn = "arn:aws:signer:eu-west-1:111122223333:/signing-profiles/p" }
  expect_failures = [var.code_signing_config_arn]
}

run "rejects_bad_bucket_name" {
  command = plan
  variables { lambda_package_s3 = { bucket = "Artifacts_Bucket" } }
  expect_failures = [var.lambda_package_s3]
}

run "rejects_version_for_unknown_function" {
  command = plan
  variables { lambda_package_s3 = { bucket = "artifacts", object_versions = { worker = "v1" } } }
  expect_failures = [var.lambda_package_s3]
}

run "rejects_two_package_sources" {
  command = plan
  variables {
    lambda_package_dir = "dist/arm64"
    lambda_package_s3  = { bucket = "artifacts" }
  }
  expect_failures = [var.lambda_package_s3]
}
