# An interruptible batch job that checkpoints: the runtime runs it as low-carbon segments on
# Fargate Spot in two Regions; at a segment's end (or a Spot interruption) ECS sends SIGTERM, the
# agent commits a checkpoint to the module's checkpoint bucket of the Region and the job exits 75;
# the next segment, maybe in the other Region, resumes from it (docs/checkpoint-protocol.md).

provider "aws" {
  region = var.regions[0]
}

data "aws_partition" "current" {}

data "aws_caller_identity" "current" {}

locals {

  name    = "checkpointing-job"
  arn     = "arn:${data.aws_partition.current.partition}"
  account = data.aws_caller_identity.current.account_id
  # ARNs are spelled out (not read from the resources) so the allow-list is known at plan time.
  cluster_arns         = { for r in var.regions : r => "${local.arn}:ecs:${r}:${local.account}:cluster/${local.name}" }
  task_definition_arns = { for r in var.regions : r => "${local.arn}:ecs:${r}:${local.account}:task-definition/${local.name}:*" }
  role_arns            = ["${local.arn}:iam::${local.account}:role/${local.name}-task", "${local.arn}:iam::${local.account}:role/${local.name}-execution"]
}

module "carbon_aware" {
  source = "../../"

  name        = "carbon-aware-ckpt"
  regions     = var.regions
  home_region = var.regions[0]
  # Segments follow the cleanest Region hour by hour (a submission may name another strategy).
  strategy = "follow_the_sun"

  execution_targets = {
    ecs_cluster_arns         = values(local.cluster_arns)
    ecs_task_definition_arns = values(local.task_definition_arns)
    pass_role_arns           = local.role_arns
  }

  tags = var.tags
}
