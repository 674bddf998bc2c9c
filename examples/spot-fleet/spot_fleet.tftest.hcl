mock_provider "aws" {
  mock_data "aws_ssm_parameter" {
    defaults = { insecure_value = "ami-0123456789abcdef0" }
  }
}

variables {
  networks = {
    "eu-west-1"    = { subnet_ids = ["subnet-1a", "subnet-1b"], security_group_ids = ["sg-1"] }
    "eu-west-2"    = { subnet_ids = ["subnet-2a"], security_group_ids = ["sg-2"] }
    "eu-central-1" = { subnet_ids = ["subnet-3a"], security_group_ids = ["sg-3"] }
  }
}

run "fleet_over_three_regions" {
  command = apply

  assert {
    condition     = toset(keys(output.fleet_group_names)) == toset(["eu-west-1", "eu-west-2", "eu-central-1"]) && toset(values(output.fleet_group_names)) == toset(["carbon-aware-spot-web"])
    error_message = "one group per Region, named after the fleet"
  }

  assert {
    condition     = toset(keys(output.fleet_launch_template_ids)) == toset(keys(output.fleet_group_names))
    error_message = "a launch template per Region"
  }

  assert {
    condition = (
      contains(keys(module.carbon_aware.function_names), "fleet_optimizer") && module.carbon_aware.table_names["fleets"] == "carbon-aware-spot-fleets" &&
      alltrue([for r in keys(var.networks) : strcontains(module.carbon_aware.function_policies["fleet_optimizer"], ":autoscaling:${r}:")])
    )
    error_message = "the fleet optimizer, its table, and its grant on the group of each Region"
  }
}
