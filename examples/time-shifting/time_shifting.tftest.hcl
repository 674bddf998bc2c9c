mock_provider "aws" {}

run "one_region_time_shifting" {
  command = apply

  variables {
    target_lambda_arns = ["arn:aws:lambda:eu-west-2:111122223333:function:nightly-report"]
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
    condition     = length(output.function_arns) == 6
    error_message = "all six functions are deployed"
  }
}
