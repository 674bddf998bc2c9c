# The export: bucket encryption, public access, lifecycle, the streams of the exported tables
# (workloads; fleets and migrations when created) and their mappings, and the exporter's grants.

mock_provider "aws" {
  mock_data "aws_partition" {
    defaults = { partition = "aws", dns_suffix = "amazonaws.com" }
  }
  mock_data "aws_caller_identity" {
    defaults = { account_id = "111122223333" }
  }
}

variables {
  name    = "ca-export"
  regions = ["eu-west-1"]
}

run "created_bucket_with_kms" {
  command = apply

  variables {
    kms_key_arn      = "arn:aws:kms:eu-west-1:111122223333:key/export"
    export_lifecycle = { transition_days = 60, storage_class = "GLACIER", expiration_days = 400 }
  }

  assert {
    condition     = one(one(aws_s3_bucket_server_side_encryption_configuration.export[0].rule).apply_server_side_encryption_by_default).kms_master_key_id == var.kms_key_arn
    error_message = "the export is encrypted with kms_key_arn"
  }

  assert {
    condition     = alltrue([aws_s3_bucket_public_access_block.export[0].block_public_acls, aws_s3_bucket_public_access_block.export[0].block_public_policy, aws_s3_bucket_public_access_block.export[0].restrict_public_buckets])
    error_message = "public access blocked"
  }

  assert {
    condition     = one([for r in aws_s3_bucket_lifecycle_configuration.export[0].rule : one(r.transition).days == 60 && one(r.expiration).days == 400 if r.id == "export"])
    error_message = "the lifecycle input takes effect"
  }

  assert {
    condition     = aws_dynamodb_table.this["workloads"].stream_enabled && aws_dynamodb_table.this["workloads"].stream_view_type == "NEW_AND_OLD_IMAGES" && !aws_dynamodb_table.this["signals"].stream_enabled
    error_message = "only the workloads table streams, with both images"
  }

  assert {
    condition     = aws_lambda_event_source_mapping.export["workloads"].event_source_arn == aws_dynamodb_table.this["workloads"].stream_arn && aws_lambda_event_source_mapping.export["workloads"].function_name == module.function["exporter"].function_arn
    error_message = "the workloads stream maps to the exporter"
  }

  assert {
    condition     = length(one(aws_lambda_event_source_mapping.export["workloads"].filter_criteria).filter) == 2 && one(one(aws_lambda_event_source_mapping.export["workloads"].destination_config).on_failure).destination_arn == aws_sqs_queue.dlq["exporter"].arn
    error_message = "final and TTL-removal filters; failed batches to the exporter's dead-letter queue"
  }

  assert {
    condition     = local.functions.exporter.statements[0].Action == ["s3:PutObject"] && local.functions.exporter.statements[0].Resource == ["${local.export_bucket_arn}/exports/*"] && length(local.functions.exporter.statements) == 1
    error_message = "the exporter may only put objects under the export prefix"
  }

  assert {
    condition     = strcontains(module.function["exporter"].role_policy, "dynamodb:GetRecords") && strcontains(module.function["exporter"].role_policy, "${aws_dynamodb_table.this["workloads"].arn}/stream/*")
    error_message = "the exporter's role reads the workloads stream only"
  }
}

run "given_bucket" {
  command = apply

  variables {
    export_bucket_name = "my-carbon-export"
    export_prefix      = "carbon/v1"
  }

  assert {
    condition     = length(aws_s3_bucket.export) == 0 && local.functions.exporter.environment.CARBON_AWARE_EXPORT_BUCKET == "my-carbon-export"
    error_message = "a given bucket is used, none created"
  }

  assert {
    condition     = local.functions.exporter.statements[0].Resource == ["arn:aws:s3:::my-carbon-export/carbon/v1/*"]
    error_message = "the grant follows the given bucket and prefix"
  }
}

run "fleets_and_migrations_exported" {
  command = apply

  variables {
    migrations = { enabled = true }
    fleets = {
      web = {
        regions        = { "eu-west-1" = { subnet_ids = ["subnet-a"], security_group_ids = ["sg-1"] } }
        instance_types = ["m7g.large", "m6g.large", "c7g.xlarge"]
        min_total      = 1
        max_total      = 4
        desired_total  = 2
      }
    }
  }

  assert {
    condition     = alltrue([for t in ["workloads", "fleets", "migrations"] : aws_dynamodb_table.this[t].stream_enabled && aws_dynamodb_table.this[t].stream_view_type == "NEW_AND_OLD_IMAGES" && aws_lambda_event_source_mapping.export[t].event_source_arn == aws_dynamodb_table.this[t].stream_arn]) && !aws_dynamodb_table.this["signals"].stream_enabled && !aws_dynamodb_table.this["idempotency"].stream_enabled
    error_message = "workloads, fleets and migrations stream both images to the exporter; no other table streams"
  }

  assert {
    condition = (
      [for f in one(aws_lambda_event_source_mapping.export["fleets"].filter_criteria).filter : jsondecode(f.pattern)] == [
        { eventName = ["INSERT", "MODIFY"], dynamodb = { NewImage = { sk = { S = [{ prefix = "decision#" }] } } } },
        { eventName = ["REMOVE"], userIdentity = { type = ["Service"], principalId = ["dynamodb.amazonaws.com"] }, dynamodb = { OldImage = { sk = { S = [{ prefix = "decision#" }] } } } },
      ]
    )
    error_message = "fleets: decisions when written and their TTL removals; never a fleet's state item"
  }

  assert {
    condition = (
      [for f in one(aws_lambda_event_source_mapping.export["migrations"].filter_criteria).filter : jsondecode(f.pattern)] == [
        { eventName = ["INSERT", "MODIFY"], dynamodb = { NewImage = { pk = { S = [{ prefix = "migration#" }] }, state = { S = ["completed", "rolled_back", "failed", "cancelled"] } } } },
        { eventName = ["REMOVE"], userIdentity = { type = ["Service"], principalId = ["dynamodb.amazonaws.com"] }, dynamodb = { OldImage = { pk = { S = [{ prefix = "migration#" }] } } } },
      ]
    )
    error_message = "migrations: in a terminal state, and TTL removals of migrations; never lock or policy-state items"
  }

  assert {
    condition     = alltrue([for t in ["workloads", "fleets", "migrations"] : strcontains(module.function["exporter"].role_policy, "${aws_dynamodb_table.this[t].arn}/stream/*")]) && !strcontains(module.function["exporter"].role_policy, "${aws_dynamodb_table.this["signals"].arn}/stream/*")
    error_message = "the exporter's role reads the three exported streams, no other"
  }
}

run "no_fleets_no_migrations" {
  command = apply

  assert {
    condition     = keys(aws_lambda_event_source_mapping.export) == ["workloads"] && keys(local.exported_tables) == ["workloads"]
    error_message = "without fleets or migrations only the workloads table is exported"
  }
}

run "bad_lifecycle" {
  command = plan

  variables {
    export_lifecycle = { transition_days = 10 }
  }

  expect_failures = [var.export_lifecycle]
}
