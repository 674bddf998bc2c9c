################################################################################
# Checkpoints of interruptible workloads (carbon_aware.runtime.checkpoints): one bucket in every
# Region a workload may run in, encrypted under that Region's KMS key (regional_kms_key_arns, or
# kms_key_arn at home; the AWS managed aws/s3 key without one). Checkpoints expire after
# checkpoints.retention_days. The executor (and the scheduler's sweep, which also dispatches)
# read a workload's newest manifest and copy its checkpoint to the next segment's Region,
# re-encrypted under that Region's key.
################################################################################

locals {
  checkpoint_regions = var.checkpoints.enabled ? toset(var.regions) : toset([])
  checkpoint_kms_key_arns = {
    for r in local.checkpoint_regions : r => lookup(var.regional_kms_key_arns, r, r == local.home_region ? var.kms_key_arn : null)
  }
  checkpoint_buckets = { for r, b in aws_s3_bucket.checkpoints : r => b.bucket }

  checkpoint_environment = {
    CARBON_AWARE_CHECKPOINT_BUCKETS        = jsonencode(local.checkpoint_buckets)
    CARBON_AWARE_CHECKPOINT_KMS_KEYS       = jsonencode({ for r, k in local.checkpoint_kms_key_arns : r => k if k != null })
    CARBON_AWARE_CHECKPOINT_BUDGET_SECONDS = var.checkpoints.budget_seconds
    CARBON_AWARE_TRANSFER_USD_PER_GB       = var.transfer_usd_per_gb
  }
  # Carrying a checkpoint: read the manifest and the checkpoint in one Region, write both in
  # another (CopyObject needs GetObject on the source and PutObject on the destination), with
  # the keys that encrypt them. A manifest naming an EBS snapshot (encrypted under its Region's
  # checkpoint key, so only with checkpoint keys) has the snapshot copied too: CopySnapshot,
  # tagged at creation, re-encrypted under the destination's key (EBS works with those keys
  # through grants for the copy).
  checkpoint_statements = concat(
    length(local.checkpoint_buckets) == 0 ? [] : [{
      Sid      = "CarryCheckpoints"
      Effect   = "Allow"
      Action   = ["s3:GetObject", "s3:PutObject"]
      Resource = [for b in aws_s3_bucket.checkpoints : "${b.arn}/checkpoints/*"]
    }],
    length(compact(values(local.checkpoint_kms_key_arns))) == 0 ? [] : [{
      Sid      = "CarrySnapshots"
      Effect   = "Allow"
      Action   = ["ec2:CopySnapshot"]
      Resource = ["arn:${local.partition}:ec2:*::snapshot/*"]
    }],
    length(compact(values(local.checkpoint_kms_key_arns))) == 0 ? [] : [{
      # DescribeSnapshots has no resource-level permissions.
      Sid      = "DescribeSnapshots"
      Effect   = "Allow"
      Action   = ["ec2:DescribeSnapshots"]
      Resource = ["*"]
    }],
    length(compact(values(local.checkpoint_kms_key_arns))) == 0 ? [] : [{
      Sid       = "TagSnapshotCopies"
      Effect    = "Allow"
      Action    = ["ec2:CreateTags"]
      Resource  = ["arn:${local.partition}:ec2:*::snapshot/*"]
      Condition = { StringEquals = { "ec2:CreateAction" = "CopySnapshot" } }
    }],
    length(compact(values(local.checkpoint_kms_key_arns))) == 0 ? [] : [{
      Sid    = "CheckpointKeys"
      Effect = "Allow"
      Action = [
        "kms:Decrypt", "kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext",
        "kms:ReEncryptFrom", "kms:ReEncryptTo", "kms:DescribeKey",
      ]
      Resource = compact(values(local.checkpoint_kms_key_arns))
    }],
    length(compact(values(local.checkpoint_kms_key_arns))) == 0 ? [] : [{
      Sid       = "SnapshotCopyGrants"
      Effect    = "Allow"
      Action    = ["kms:CreateGrant"]
      Resource  = compact(values(local.checkpoint_kms_key_arns))
      Condition = { Bool = { "kms:GrantIsForAWSResource" = "true" } }
    }],
  )
}

resource "aws_s3_bucket" "checkpoints" {
  for_each = local.checkpoint_regions

  #checkov:skip=CKV_AWS_144:Checkpoints are carried to the Region that resumes them; replicating every checkpoint everywhere would cost more than it saves.
  #checkov:skip=CKV_AWS_18:Access logging needs a log bucket of the owner's; only the workloads and the executor write here.
  #checkov:skip=CKV2_AWS_62:Nothing consumes object-created events of checkpoints.
  region        = each.key
  bucket_prefix = substr(lower("${var.name}-ckpt-${each.key}-"), 0, 37)

  tags = var.tags
}

resource "aws_s3_bucket_public_access_block" "checkpoints" {
  for_each = aws_s3_bucket.checkpoints

  region                  = each.key
  bucket                  = each.value.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_server_side_encryption_configuration" "checkpoints" {
  for_each = aws_s3_bucket.checkpoints

  region = each.key
  bucket = each.value.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = local.checkpoint_kms_key_arns[each.key]
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_versioning" "checkpoints" {
  for_each = aws_s3_bucket.checkpoints

  region = each.key
  bucket = each.value.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "checkpoints" {
  for_each = aws_s3_bucket.checkpoints

  region = each.key
  bucket = each.value.id

  rule {
    id     = "checkpoints"
    status = "Enabled"

    filter {
      prefix = "checkpoints/"
    }

    expiration {
      days = var.checkpoints.retention_days
    }

    # The manifest is rewritten at every checkpoint: its old versions go after a day.
    noncurrent_version_expiration {
      noncurrent_days = 1
    }
  }

  # Multipart uploads are aborted anywhere in the bucket, not only under the prefix above.
  rule {
    id     = "abort-incomplete-uploads"
    status = "Enabled"

    filter {}

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
}

resource "aws_s3_bucket_policy" "checkpoints" {
  for_each = aws_s3_bucket.checkpoints

  region = each.key
  bucket = each.value.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "DenyInsecureTransport"
      Effect    = "Deny"
      Principal = "*"
      Action    = "s3:*"
      Resource  = [each.value.arn, "${each.value.arn}/*"]
      Condition = { Bool = { "aws:SecureTransport" = "false" } }
    }]
  })

  depends_on = [aws_s3_bucket_public_access_block.checkpoints]
}
