mock_provider "aws" {}

run "one_region_time_shifting" {
  command = apply

  variables {
    target_lambda_arns = ["arn:aws:lambda:eu-west-2:111122223333:function:nightly-report"]
    target_role_names  = ["nightly-report"]
  }

  assert {
    condition     = module.carbon_aware.regions == ["eu-west-2"] && module.carbon_aware.home_region == "eu-west-2"
    error_message = "one Region, which is also the home Region"
  }

  assert {
    condition     = output.api_endpoint != null
    error_message = "the function URL is exposed"
  }

  assert {
    condition     = toset(keys(output.function_arns)) == toset(["api", "intake", "monitor", "scheduler", "executor", "completion", "exporter", "interruptions"])
    error_message = "every function but the fleet optimizer (no fleets) is deployed"
  }

  assert {
    condition = alltrue([
      for c in aws_lambda_function_event_invoke_config.target : c.region == "eu-west-2" &&
      one(c.destination_config[0].on_success).destination == module.carbon_aware.runner_event_bus_arns["eu-west-2"] &&
      one(c.destination_config[0].on_failure).destination == module.carbon_aware.runner_event_bus_arns["eu-west-2"]
    ]) && length(aws_lambda_function_event_invoke_config.target) == 1
    error_message = "the Lambda target sends its success and failure records to the runner bus"
  }

  assert {
    condition     = strcontains(aws_iam_role_policy.target_destinations["nightly-report"].policy, "events:PutEvents")
    error_message = "the target's role may put its results on the runner bus"
  }
}
