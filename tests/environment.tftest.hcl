# Renders every function's environment for tests/terraform/test_drift.py, which runs this file with
# `terraform test -json -verbose` and loads each environment with the runtime's own settings loaders.

mock_provider "aws" {
  mock_data "aws_ssm_parameter" {
    defaults = { insecure_value = "ami-0123456789abcdef0" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws", dns_suffix = "amazonaws.com" }
  }
  mock_data "aws_caller_identity" {
    defaults = { account_id = "111122223333" }
  }
}

run "rendered_environment" {
  command = apply

  variables {
    name                     = "ca-drift"
    regions                  = ["eu-west-1", "us-west-2"]
    replan_threshold_percent = 7
    dispatch_timeout_seconds = 1200
    workload_ttl_days        = 30
    region_zones             = { "us-west-2" = "US-CAL-CISO" }
    kms_key_arn              = "arn:aws:kms:eu-west-1:111122223333:key/drift"
    strategy_weights         = { balanced = { carbon = 0.6, cost = 0.4 } }
    sweeper_workers          = 6
    running_grace_minutes    = 30
    run_timeout_minutes      = 240
    observation_ttl_days     = 120
    forecast_hours           = 24
    provider_chain           = ["ukci", "profile"]
    ukci_regions             = { "eu-west-2" = 13 }
    export_prefix            = "audit/carbon"
    execution_targets = {
      lambda_function_arns = ["arn:aws:lambda:us-west-2:111122223333:function:job"]
    }
    placement_score_daily_budget = 25
    migrations = {
      enabled        = true
      step_schedule  = "rate(2 minutes)"
      poll_seconds   = 20
      state_timeouts = { migrating = 600, rolling_back = 1200 }
      auto           = true
      policy         = { threshold_g_per_kwh = 350, confirmations = 3, max_fleet_fraction = 0.5 }
      services = {
        api = {
          zone_id     = "Z0123456789ABCDEFGHIJ"
          record_name = "api.example.com"
          record_type = "AAAA"
          regions = {
            "eu-west-1" = { group = "api-eu", set_identifier = "eu", health_check_id = "0b6a5c1e-2f3d-4e5f-8a9b-0c1d2e3f4a5b" }
            "us-west-2" = { group = "api-us", set_identifier = "us" }
          }
        }
      }
    }
    interruption_handling = {
      rebalance_action        = "replace"
      unavailable_minutes     = 45
      checkpoint_ssm_document = "ca-drift-checkpoint"
      max_replacements        = 2
    }
    fleets = {
      web = {
        regions = {
          "eu-west-1" = { subnet_ids = ["subnet-a"], security_group_ids = ["sg-1"], min_share = 0.25, max_share = 0.75 }
          "us-west-2" = { subnet_ids = ["subnet-b"], security_group_ids = ["sg-2"], max_share = 0.75 }
        }
        instance_types    = ["m7g.large", "m6g.large", "c7g.xlarge"]
        min_total         = 2
        max_total         = 8
        desired_total     = 4
        strategy          = "follow_the_sun"
        dwell_minutes     = 45
        max_step          = 2
        move_cost_minutes = 40
        lookahead_hours   = 12
      }
    }
  }

  assert {
    condition     = length(module.function) == length(local.functions)
    error_message = "one function per entry of local.functions"
  }
}
