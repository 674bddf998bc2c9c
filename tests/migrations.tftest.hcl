# Migrations between Regions (migrations.tf). Run from the repository root: terraform test

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

run "nothing_without_migrations" {
  command = apply

  assert {
    condition     = !contains(keys(aws_dynamodb_table.this), "migrations") && !contains(keys(local.functions), "migrations") && length(aws_cloudwatch_event_rule.migrations) == 0
    error_message = "no migrations table, function or schedule unless migrations.enabled"
  }

  assert {
    condition     = local.functions["api"].environment["CARBON_AWARE_MIGRATIONS_TABLE"] == null
    error_message = "the api is not told of a migrations table that does not exist"
  }
}

run "table_function_schedule_and_settings" {
  command = apply

  variables {
    migrations = { enabled = true, step_schedule = "rate(2 minutes)", poll_seconds = 15, state_timeouts = { migrating = 600 } }
  }

  assert {
    condition     = aws_dynamodb_table.this["migrations"].name == "ca-test-migrations" && aws_cloudwatch_event_rule.migrations[0].schedule_expression == "rate(2 minutes)"
    error_message = "the migrations table and the step schedule"
  }

  assert {
    condition = (
      local.functions["migrations"].environment["CARBON_AWARE_MIGRATION_POLL_SECONDS"] == 15 &&
      jsondecode(local.functions["migrations"].environment["CARBON_AWARE_MIGRATION_TIMEOUTS"]) == { migrating = 600 }
    )
    error_message = "poll_seconds and state_timeouts reach the function"
  }

  assert {
    condition     = one([for s in local.functions["migrations"].statements : s.Action if s.Sid == "Migrations"]) == ["dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"]
    error_message = "migrations and their locks: conditional puts, transactions (put, delete) and queries only"
  }
}

run "the_trigger_pass_reads_signals_and_running_workloads_only_when_auto" {
  command = plan

  variables {
    migrations = { enabled = true, auto = true, policy = { threshold_g_per_kwh = 350, cooldown_minutes = 30 } }
  }

  assert {
    condition = (
      local.functions["migrations"].environment["CARBON_AWARE_MIGRATION_AUTO"] == "true" &&
      jsondecode(local.functions["migrations"].environment["CARBON_AWARE_MIGRATION_POLICY"]).threshold_g_per_kwh == 350 &&
      jsondecode(local.functions["migrations"].environment["CARBON_AWARE_MIGRATION_POLICY"]).confirmations == 2 &&
      jsondecode(local.functions["migrations"].environment["CARBON_AWARE_MIGRATION_POLICY"]).surge_raise_g_per_kwh == 100
    )
    error_message = "auto and the policy (with its defaults) reach the function"
  }

  assert {
    condition = (
      one([for s in local.functions["migrations"].statements : s.Action if s.Sid == "RunningWorkloads"]) == ["dynamodb:Query"] &&
      length([for s in local.functions["migrations"].statements : s if s.Sid == "SignalsRead"]) == 1
    )
    error_message = "the trigger pass queries the workloads' due index and reads the signals cache"
  }
}

run "no_trigger_grants_without_auto" {
  command = plan
  variables { migrations = { enabled = true } }

  assert {
    condition = (
      local.functions["migrations"].environment["CARBON_AWARE_MIGRATION_AUTO"] == "false" &&
      length([for s in local.functions["migrations"].statements : s if contains(["RunningWorkloads", "SignalsRead"], s.Sid)]) == 0
    )
    error_message = "auto is off by default, and without it no signal or workload listing grants"
  }
}

run "rejects_bad_policy" {
  command = plan
  variables { migrations = { enabled = true, policy = { confirmations = 0, max_fleet_fraction = 0 } } }
  expect_failures = [var.migrations]
}

run "rejects_bad_policy_bounds" {
  command = plan
  variables { migrations = { enabled = true, policy = { cooldown_minutes = 120, max_cooldown_minutes = 60 } } }
  expect_failures = [var.migrations]
}

run "rejects_bad_horizon" {
  command = plan
  variables { migrations = { enabled = true, policy = { horizon_hours = 0.5, margin_ratio = -1 } } }
  expect_failures = [var.migrations]
}

run "rejects_bad_schedule" {
  command = plan
  variables { migrations = { enabled = true, step_schedule = "every minute" } }
  expect_failures = [var.migrations]
}

run "rejects_unknown_state_timeout" {
  command = plan
  variables { migrations = { enabled = true, state_timeouts = { completed = 60 } } }
  expect_failures = [var.migrations]
}

run "rejects_non_positive_poll" {
  command = plan
  variables { migrations = { enabled = true, poll_seconds = 0 } }
  expect_failures = [var.migrations]
}

run "blue_green_services_reach_the_functions_with_scoped_grants" {
  command = apply

  variables {
    migrations = {
      enabled = true
      services = {
        api = {
          zone_id     = "Z0123456789ABCDEFGHIJ"
          record_name = "API.example.com."
          regions = {
            "eu-west-1" = { group = "api-eu", set_identifier = "eu", health_check_id = "0b6a5c1e-2f3d-4e5f-8a9b-0c1d2e3f4a5b" }
            "us-west-2" = { group = "api-us", set_identifier = "us" }
          }
        }
      }
    }
  }

  assert {
    condition = (
      jsondecode(local.functions["migrations"].environment["CARBON_AWARE_MIGRATION_SERVICES"]).api.record_type == "A" &&
      jsondecode(local.functions["migrations"].environment["CARBON_AWARE_MIGRATION_SERVICES"]).api.regions["us-west-2"].health_check_id == null &&
      local.functions["api"].environment["CARBON_AWARE_MIGRATION_SERVICES"] == local.functions["migrations"].environment["CARBON_AWARE_MIGRATION_SERVICES"]
    )
    error_message = "the services reach the migrations function and the api (record_type defaults to A)"
  }

  assert {
    condition = {
      for s in jsondecode(module.function["migrations"].role_policy).Statement : s.Sid => [s.Action, s.Resource, try(s.Condition, null)]
      if contains(["GroupsRead", "ServiceRecordsRead", "ServiceHealthChecks", "ServiceGroupsWrite", "ServiceWeights"], s.Sid)
      } == {
      GroupsRead          = [["autoscaling:DescribeAutoScalingGroups"], ["*"], null]
      ServiceRecordsRead  = [["route53:ListResourceRecordSets"], ["arn:aws:route53:::hostedzone/Z0123456789ABCDEFGHIJ"], null]
      ServiceHealthChecks = [["route53:GetHealthCheckStatus"], ["arn:aws:route53:::healthcheck/0b6a5c1e-2f3d-4e5f-8a9b-0c1d2e3f4a5b"], null]
      ServiceGroupsWrite = [["autoscaling:SetDesiredCapacity"], [
        "arn:aws:autoscaling:eu-west-1:111122223333:autoScalingGroup:*:autoScalingGroupName/api-eu",
        "arn:aws:autoscaling:us-west-2:111122223333:autoScalingGroup:*:autoScalingGroupName/api-us",
      ], null]
      ServiceWeights = [["route53:ChangeResourceRecordSets"], ["arn:aws:route53:::hostedzone/Z0123456789ABCDEFGHIJ"], {
        "ForAllValues:StringEquals" = {
          "route53:ChangeResourceRecordSetsActions"               = ["UPSERT"]
          "route53:ChangeResourceRecordSetsNormalizedRecordNames" = ["api.example.com"]
          "route53:ChangeResourceRecordSetsRecordTypes"           = ["A"]
        }
      }]
    }
    error_message = "least privilege: the services' groups, zone (UPSERTs of their record names only) and health checks"
  }

  assert {
    condition = (
      length([for s in local.functions["api"].statements : s if contains(["ServiceRecordsRead", "ServiceHealthChecks", "MigrationDryRuns"], s.Sid)]) == 3 &&
      length([for s in local.functions["api"].statements : s if contains(["ServiceGroupsWrite", "ServiceWeights"], s.Sid)]) == 0
    )
    error_message = "the api's dry runs read the groups, records and health checks, and write nothing"
  }
}

run "no_service_grants_without_services" {
  command = plan
  variables { migrations = { enabled = true } }

  assert {
    condition = (
      local.functions["migrations"].environment["CARBON_AWARE_MIGRATION_SERVICES"] == null &&
      length([for s in local.functions["migrations"].statements : s if startswith(s.Sid, "Service") || s.Sid == "GroupsRead"]) == 0
    )
    error_message = "no services: no service settings, no Route 53 or group grants"
  }
}

run "rejects_a_service_in_one_region" {
  command = plan
  variables {
    migrations = { enabled = true, services = { api = { zone_id = "Z1", record_name = "api.example.com", regions = { "eu-west-1" = { group = "g", set_identifier = "eu" } } } } }
  }
  expect_failures = [var.migrations]
}

run "rejects_a_service_outside_the_regions" {
  command = plan
  variables {
    migrations = { enabled = true, services = { api = { zone_id = "Z1", record_name = "api.example.com", regions = { "eu-west-1" = { group = "g", set_identifier = "eu" }, "ap-south-1" = { group = "g", set_identifier = "ap" } } } } }
  }
  expect_failures = [var.migrations]
}

run "rejects_a_bad_health_check_or_record_type" {
  command = plan
  variables {
    migrations = { enabled = true, services = { api = { zone_id = "Z1", record_name = "api.example.com", record_type = "MX", regions = { "eu-west-1" = { group = "g", set_identifier = "eu", health_check_id = "hc" }, "us-west-2" = { group = "h", set_identifier = "eu" } } } } }
  }
  expect_failures = [var.migrations]
}
