mock_provider "aws" {}

run "three_regions_location_shifting" {
  command = apply

  variables {
    ecs_targets = {
      "eu-north-1" = {
        cluster_arn         = "arn:aws:ecs:eu-north-1:111122223333:cluster/jobs"
        task_definition_arn = "arn:aws:ecs:eu-north-1:111122223333:task-definition/etl:*"
        role_arns           = ["arn:aws:iam::111122223333:role/etl"]
      }
      "us-west-2" = {
        cluster_arn         = "arn:aws:ecs:us-west-2:111122223333:cluster/jobs"
        task_definition_arn = "arn:aws:ecs:us-west-2:111122223333:task-definition/etl:*"
        role_arns           = ["arn:aws:iam::111122223333:role/etl"]
      }
    }
  }

  assert {
    condition     = toset(output.regions) == toset(["eu-west-1", "eu-north-1", "us-west-2"])
    error_message = "a regional stack in each of the three Regions"
  }

  assert {
    condition     = toset(keys(output.runner_event_bus_arns)) == toset(output.regions)
    error_message = "a runner event bus in each Region"
  }

  assert {
    condition     = module.carbon_aware.alarm_topic_arn != null && output.api_endpoint != null
    error_message = "alarm topic and HTTP API are created"
  }

  assert {
    condition     = startswith(output.dashboard_url, "https://eu-west-1.console.aws.amazon.com/")
    error_message = "the dashboard lives in the home Region"
  }
}
