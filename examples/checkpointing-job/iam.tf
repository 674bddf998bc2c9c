# The task's role may read and write checkpoints under checkpoints/ in every Region's checkpoint
# bucket of the module (a segment resumes from another Region's checkpoint) with their KMS keys;
# nothing else.
# Listing that prefix is granted so that a missing manifest (a fresh start) reads as 404: without
# s3:ListBucket, S3 answers 403 for a missing key.

data "aws_iam_policy_document" "ecs_tasks" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "task" {
  name               = "${local.name}-task"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks.json
  tags               = var.tags
}

locals {
  checkpoint_keys = distinct(compact([for b in values(module.carbon_aware.checkpoint_buckets) : b.kms_key_arn]))
}

data "aws_iam_policy_document" "checkpoints" {
  statement {
    sid       = "Checkpoints"
    actions   = ["s3:GetObject", "s3:PutObject"]
    resources = [for b in values(module.carbon_aware.checkpoint_buckets) : "${b.arn}/checkpoints/*"]
  }

  statement {
    sid       = "ListCheckpoints"
    actions   = ["s3:ListBucket"]
    resources = [for b in values(module.carbon_aware.checkpoint_buckets) : b.arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["checkpoints/*"]
    }
  }

  # Customer managed keys only: the AWS managed aws/s3 key lets the account use it through S3.
  dynamic "statement" {
    for_each = length(local.checkpoint_keys) > 0 ? [local.checkpoint_keys] : []
    content {
      sid       = "CheckpointKeys"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = statement.value
    }
  }
}

resource "aws_iam_role_policy" "checkpoints" {
  name   = "checkpoints"
  role   = aws_iam_role.task.id
  policy = data.aws_iam_policy_document.checkpoints.json
}

resource "aws_iam_role" "execution" {
  name               = "${local.name}-execution"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks.json
  tags               = var.tags
}

resource "aws_iam_role_policy_attachment" "execution" {
  role       = aws_iam_role.execution.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
}
