# The runtime inputs of the scheduler (strategy weights, cost limit, sweeper workers): what reaches
# the functions, and what is rejected at plan time. Run with module.tftest.hcl (same directory).

mock_provider "aws" {}

variables {
  name        = "ca-inputs"
  regions     = ["eu-west-1", "us-west-2"]
  home_region = "eu-west-1"
}

run "weights_workers_and_allow_list_reach_the_functions" {
  command = apply

  variables {
    strategy_weights  = { balanced = { carbon = 0.6, cost = 0.4 }, cost_first = { carbon = 0, cost = 1 } }
    max_cost_per_hour = 2.5
    sweeper_workers   = 8
    execution_targets = { lambda_function_arns = ["arn:aws:lambda:eu-west-1:111122223333:function:job"] }
  }

  assert {
    condition     = jsondecode(local.functions["scheduler"].environment.CARBON_AWARE_STRATEGY_WEIGHTS) == { balanced = { carbon = 0.6, cost = 0.4 }, cost_first = { carbon = 0, cost = 1 } }
    error_message = "the scheduler gets strategy_weights as JSON keyed by blended strategy"
  }

  assert {
    condition     = local.functions["scheduler"].environment.CARBON_AWARE_SWEEPER_WORKERS == 8 && local.functions["scheduler"].environment.CARBON_AWARE_MAX_COST_PER_HOUR == 2.5
    error_message = "the scheduler gets sweeper_workers and max_cost_per_hour"
  }

  assert {
    condition     = contains(jsondecode(local.functions["api"].environment.CARBON_AWARE_TARGET_ALLOWLIST), "arn:aws:lambda:eu-west-1:111122223333:function:job")
    error_message = "the api checks submissions against the same allow-list as the executor"
  }
}

run "rejects_unknown_strategy" {
  command = plan
  variables { strategy = "greenest" }
  expect_failures = [var.strategy]
}

run "rejects_weights_for_a_strategy_that_is_not_blended" {
  command = plan
  variables { strategy_weights = { combined = { carbon = 0.5, cost = 0.5 } } }
  expect_failures = [var.strategy_weights]
}

run "rejects_negative_weight" {
  command = plan
  variables { strategy_weights = { carbon_first = { carbon = 1.5, cost = -0.5 } } }
  expect_failures = [var.strategy_weights]
}

run "rejects_zero_workers" {
  command = plan
  variables { sweeper_workers = 0 }
  expect_failures = [var.sweeper_workers]
}

run "rejects_fractional_workers" {
  command = plan
  variables { sweeper_workers = 2.5 }
  expect_failures = [var.sweeper_workers]
}

run "rejects_too_many_workers" {
  command = plan
  variables { sweeper_workers = 33 }
  expect_failures = [var.sweeper_workers]
}
