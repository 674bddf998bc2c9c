mock_provider "aws" {
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
  mock_data "aws_caller_identity" {
    defaults = { account_id = "111122223333" }
  }
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{}" }
  }
}

variables {
  image = "111122223333.dkr.ecr.{region}.amazonaws.com/checkpointing-job:1"
  networks = {
    "eu-west-1"  = { subnet_ids = ["subnet-0a"], security_group_ids = ["sg-01"] }
    "eu-north-1" = { subnet_ids = ["subnet-0b"], security_group_ids = ["sg-02"] }
  }
}

run "a_checkpointing_job_in_two_regions" {
  command = apply

  assert {
    condition     = toset([for c in aws_ecs_cluster.this : c.region]) == toset(["eu-west-1", "eu-north-1"])
    error_message = "one cluster per Region"
  }

  assert {
    condition = alltrue([
      for r, t in aws_ecs_task_definition.job :
      jsondecode(t.container_definitions)[0].stopTimeout == 120 &&
      jsondecode(t.container_definitions)[0].image == "111122223333.dkr.ecr.${r}.amazonaws.com/checkpointing-job:1"
    ])
    error_message = "the job gets the full 120 s between SIGTERM and SIGKILL, from its Region's image"
  }

  assert {
    condition     = alltrue([for c in aws_ecs_cluster_capacity_providers.this : contains(c.capacity_providers, "FARGATE_SPOT")])
    error_message = "the clusters can run Fargate Spot"
  }

  assert {
    condition     = toset(module.carbon_aware.regions) == toset(["eu-west-1", "eu-north-1"]) && length(output.targets) == 2
    error_message = "both Regions are served and each has a target"
  }

  assert {
    condition     = toset(keys(output.checkpoint_buckets)) == toset(["eu-west-1", "eu-north-1"])
    error_message = "the module keeps a checkpoint bucket in each Region the job may run in"
  }

  assert {
    condition     = alltrue([for t in values(output.targets) : t.overrides.containerOverrides[0].name == "job"])
    error_message = "each target names the job's container, which the API requires of an interruptible ECS target"
  }
}

run "a_region_without_a_network_is_rejected" {
  command = plan

  variables {
    regions = ["eu-west-1", "eu-north-1", "us-west-2"]
  }

  expect_failures = [var.networks]
}
