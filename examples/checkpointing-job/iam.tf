# The task's role may read and write checkpoints under checkpoints/ in every Region's checkpoint
# bucket (a segment resumes from another Region's checkpoint) with their KMS keys; nothing else.
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

data "aws_iam_policy_document" "checkpoints" {
  statement {
    sid       = "Checkpoints"
    actions   = ["s3:GetObject", "s3:PutObject"]
    resources = [for b in values(var.checkpoint_buckets) : "${b.bucket_arn}/checkpoints/*"]
  }

  statement {
    sid       = "ListCheckpoints"
    actions   = ["s3:ListBucket"]
    resources = [for b in values(var.checkpoint_buckets) : b.bucket_arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["checkpoints/*"]
    }
  }

  statement {
    sid       = "CheckpointKeys"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = distinct([for b in values(var.checkpoint_buckets) : b.kms_key_arn])
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
