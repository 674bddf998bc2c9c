# Time shifting in one Region: each workload waits, within its deadline, for the hour of lowest
# carbon intensity in its home Region, then the executor invokes its Lambda target.

provider "aws" {
  region = var.region
}

module "carbon_aware" {
  source = "../../"

  name     = "carbon-aware-ts"
  regions  = [var.region]
  strategy = "time_shift"

  refresh_interval_minutes = 30

  provider_credentials = var.electricitymaps_secret_arn == null ? {} : {
    electricitymaps = { secret_arn = var.electricitymaps_secret_arn }
  }

  execution_targets = {
    lambda_function_arns = var.target_lambda_arns
  }

  api_type = "function_url"

  tags = var.tags
}
