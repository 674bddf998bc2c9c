################################################################################
# Export: final and expired table records to S3 as JSON lines before TTL deletes them
# (carbon_aware.runtime.export). The workloads table, and the fleets and migrations tables when the
# module creates them, stream to the exporter function, each with the filters of its records.
################################################################################

locals {
  final_statuses = ["SUCCEEDED", "FAILED", "CANCELLED", "EXPIRED", "TIMED_OUT"]
  # Terminal states of a migration (carbon_aware.runtime.migrations.states.FINAL).
  migration_final_states = ["completed", "rolled_back", "failed", "cancelled"]
  # Items that are records, by their key: a fleet's decisions (not its state item), migrations
  # (not the subjects' lock items nor the trigger policy's state items).
  export_record_keys = {
    fleets     = { attribute = "sk", prefix = "decision#" }
    migrations = { attribute = "pk", prefix = "migration#" }
  }
  ttl_removal = { eventName = ["REMOVE"], userIdentity = { type = ["Service"], principalId = ["dynamodb.amazonaws.com"] } }

  # Stream filters of each table the module may export: records that became (or stay) final, and
  # removals of records by the Time to Live process. A fleet decision is final when written (it
  # is written once); a migration when it reaches a terminal state.
  export_filters = {
    workloads = [
      { eventName = ["INSERT", "MODIFY"], dynamodb = { NewImage = { status = { S = local.final_statuses } } } },
      local.ttl_removal,
    ]
    fleets = [
      { eventName = ["INSERT", "MODIFY"], dynamodb = { NewImage = { sk = { S = [{ prefix = local.export_record_keys.fleets.prefix }] } } } },
      merge(local.ttl_removal, { dynamodb = { OldImage = { sk = { S = [{ prefix = local.export_record_keys.fleets.prefix }] } } } }),
    ]
    migrations = [
      { eventName = ["INSERT", "MODIFY"], dynamodb = { NewImage = { pk = { S = [{ prefix = local.export_record_keys.migrations.prefix }] }, state = { S = local.migration_final_states } } } },
      merge(local.ttl_removal, { dynamodb = { OldImage = { pk = { S = [{ prefix = local.export_record_keys.migrations.prefix }] } } } }),
    ]
  }

  # Tables streamed to the exporter (those the module creates), with the event filters of their
  # mapping. The exporter's role reads exactly these streams (functions.tf).
  exported_tables = {
    for k, filters in local.export_filters : k => { filters = filters }
    if(k != "fleets" || local.create_fleets) && (k != "migrations" || local.create_migrations)
  }

  create_export_bucket = var.export_bucket_name == null
  export_bucket        = local.create_export_bucket ? aws_s3_bucket.export[0].bucket : var.export_bucket_name
  export_bucket_arn    = "arn:${local.partition}:s3:::${local.export_bucket}"
}

resource "aws_s3_bucket" "export" {
  count = local.create_export_bucket ? 1 : 0

  #checkov:skip=CKV_AWS_144:Cross-Region replication is the owner's choice; the export is rebuilt from nothing else, so replicate it where policy requires.
  #checkov:skip=CKV_AWS_18:Access logging needs a log bucket of the owner's; the exporter is the only writer.
  #checkov:skip=CKV2_AWS_62:Nothing consumes object-created events of the export.
  region        = local.home_region
  bucket_prefix = substr(lower("${var.name}-export-"), 0, 37)

  tags = var.tags
}

resource "aws_s3_bucket_public_access_block" "export" {
  count = local.create_export_bucket ? 1 : 0

  region                  = local.home_region
  bucket                  = aws_s3_bucket.export[0].id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_server_side_encryption_configuration" "export" {
  count = local.create_export_bucket ? 1 : 0

  region = local.home_region
  bucket = aws_s3_bucket.export[0].id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = var.kms_key_arn == null ? "AES256" : "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
    bucket_key_enabled = var.kms_key_arn != null
  }
}

resource "aws_s3_bucket_versioning" "export" {
  count = local.create_export_bucket ? 1 : 0

  region = local.home_region
  bucket = aws_s3_bucket.export[0].id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "export" {
  count = local.create_export_bucket ? 1 : 0

  region = local.home_region
  bucket = aws_s3_bucket.export[0].id

  rule {
    id     = "export"
    status = "Enabled"

    filter {
      prefix = "${var.export_prefix}/"
    }

    dynamic "transition" {
      for_each = var.export_lifecycle.transition_days == null ? [] : [var.export_lifecycle]
      content {
        days          = transition.value.transition_days
        storage_class = transition.value.storage_class
      }
    }

    dynamic "expiration" {
      for_each = var.export_lifecycle.expiration_days == null ? [] : [var.export_lifecycle.expiration_days]
      content {
        days = expiration.value
      }
    }

    # A retried batch overwrites its own objects: old versions go after a month.
    noncurrent_version_expiration {
      noncurrent_days = 30
    }
  }

  # Multipart uploads are aborted anywhere in the bucket, not only under the prefix above.
  rule {
    id     = "abort-incomplete-uploads"
    status = "Enabled"

    filter {}

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }
}

resource "aws_s3_bucket_policy" "export" {
  count = local.create_export_bucket ? 1 : 0

  region = local.home_region
  bucket = aws_s3_bucket.export[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "DenyInsecureTransport"
      Effect    = "Deny"
      Principal = "*"
      Action    = "s3:*"
      Resource  = [aws_s3_bucket.export[0].arn, "${aws_s3_bucket.export[0].arn}/*"]
      Condition = { Bool = { "aws:SecureTransport" = "false" } }
    }]
  })

  depends_on = [aws_s3_bucket_public_access_block.export]
}

resource "aws_lambda_event_source_mapping" "export" {
  for_each = local.exported_tables

  region                             = local.home_region
  function_name                      = module.function["exporter"].function_arn
  event_source_arn                   = aws_dynamodb_table.this[each.key].stream_arn
  starting_position                  = "TRIM_HORIZON"
  batch_size                         = 100
  maximum_batching_window_in_seconds = 60
  bisect_batch_on_function_error     = true
  maximum_retry_attempts             = 10

  filter_criteria {
    dynamic "filter" {
      for_each = each.value.filters
      content {
        pattern = jsonencode(filter.value)
      }
    }
  }

  # A batch that still fails is described on the exporter's dead-letter queue (its records stay
  # in the stream for 24 hours), and the dead-letters alarm fires.
  destination_config {
    on_failure {
      destination_arn = aws_sqs_queue.dlq["exporter"].arn
    }
  }

  tags = var.tags
}
