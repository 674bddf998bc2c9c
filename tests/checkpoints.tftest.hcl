# Checkpoint storage of interruptible workloads (checkpoints.tf). Run from the repository root:
# terraform test

mock_provider "aws" {
  mock_data "aws_partition" {
    defaults = { partition = "aws", dns_suffix = "amazonaws.com" }
  }
  mock_data "aws_caller_identity" {
    defaults = { account_id = "111122223333" }
  }
}

variables {
  name        = "ca-test"
  regions     = ["eu-west-1", "us-west-2"]
  home_region = "eu-west-1"
  kms_key_arn = "arn:aws:kms:eu-west-1:111122223333:key/home"
  regional_kms_key_arns = {
    "us-west-2" = "arn:aws:kms:us-west-2:111122223333:key/west"
  }
  checkpoints = { retention_days = 3, budget_seconds = 90 }
}

run "one_encrypted_expiring_bucket_per_region" {
  command = apply

  assert {
    condition     = { for r, b in aws_s3_bucket.checkpoints : r => b.region } == { "eu-west-1" = "eu-west-1", "us-west-2" = "us-west-2" }
    error_message = "one checkpoint bucket in each Region, created in that Region"
  }

  assert {
    condition = { for r, c in aws_s3_bucket_server_side_encryption_configuration.checkpoints : r => one(one(c.rule).apply_server_side_encryption_by_default).kms_master_key_id } == {
      "eu-west-1" = "arn:aws:kms:eu-west-1:111122223333:key/home"
      "us-west-2" = "arn:aws:kms:us-west-2:111122223333:key/west"
    }
    error_message = "each bucket is encrypted under its own Region's key"
  }

  assert {
    condition     = alltrue([for c in aws_s3_bucket_lifecycle_configuration.checkpoints : one([for r in c.rule : one(r.expiration).days if r.id == "checkpoints"]) == 3])
    error_message = "checkpoints expire after checkpoints.retention_days"
  }

  assert {
    condition     = alltrue([for c in aws_s3_bucket_lifecycle_configuration.checkpoints : one([for r in c.rule : one(r.abort_incomplete_multipart_upload).days_after_initiation if r.id == "abort-incomplete-uploads"]) == 1])
    error_message = "incomplete multipart uploads are aborted after a day"
  }

  assert {
    condition     = alltrue([for p in aws_s3_bucket_public_access_block.checkpoints : p.block_public_acls && p.block_public_policy && p.ignore_public_acls && p.restrict_public_buckets])
    error_message = "no checkpoint bucket can be made public"
  }

  assert {
    condition     = alltrue([for p in aws_s3_bucket_policy.checkpoints : jsondecode(p.policy).Statement[0].Condition.Bool["aws:SecureTransport"] == "false"])
    error_message = "checkpoint buckets refuse requests without TLS"
  }

  assert {
    condition     = keys(jsondecode(local.functions["api"].environment["CARBON_AWARE_CHECKPOINT_BUCKETS"])) == ["eu-west-1", "us-west-2"] && local.functions["executor"].environment["CARBON_AWARE_CHECKPOINT_BUDGET_SECONDS"] == 90
    error_message = "the api checks interruptible submissions and the executor carries checkpoints with the same buckets and budget"
  }

  assert {
    condition = jsonencode([for s in jsondecode(module.function["executor"].role_policy).Statement : sort(s.Resource) if s.Sid == "CheckpointKeys"]) == jsonencode([[
      "arn:aws:kms:eu-west-1:111122223333:key/home", "arn:aws:kms:us-west-2:111122223333:key/west",
    ]])
    error_message = "the executor may use the checkpoint keys of every Region (copies re-encrypt under the destination's)"
  }
}

run "disabled_creates_nothing" {
  command = plan

  variables {
    checkpoints = { enabled = false }
  }

  assert {
    condition     = length(aws_s3_bucket.checkpoints) == 0 && local.functions["executor"].environment["CARBON_AWARE_CHECKPOINT_BUCKETS"] == "{}"
    error_message = "without checkpoints no bucket exists and interruptible submissions are rejected"
  }

  assert {
    condition     = length([for s in local.functions["executor"].statements : s if s.Sid == "CarryCheckpoints"]) == 0
    error_message = "without checkpoints the executor gets no S3 access"
  }
}

run "rejects_budget_past_the_ecs_stop_timeout" {
  command = plan
  variables { checkpoints = { budget_seconds = 300 } }
  expect_failures = [var.checkpoints]
}

run "rejects_zero_retention" {
  command = plan
  variables { checkpoints = { retention_days = 0 } }
  expect_failures = [var.checkpoints]
}

run "rejects_negative_transfer_price" {
  command = plan
  variables { transfer_usd_per_gb = -0.01 }
  expect_failures = [var.transfer_usd_per_gb]
}
