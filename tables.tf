################################################################################
# DynamoDB tables: keys, indexes and TTL attribute of each, as the runtime defines them
# (carbon_aware.runtime.tables, carbon_aware.signals.cache; a drift test compares the two).
################################################################################

locals {
  tables = {
    signals = {
      hash_key      = "pk"
      range_key     = "sk"
      attributes    = { pk = "S", sk = "S" }
      indexes       = {}
      ttl_attribute = "expires_at"
    }
    workloads = {
      hash_key      = "workload_id"
      range_key     = null
      attributes    = { workload_id = "S", due_key = "S", due_at = "N" }
      indexes       = { due = { hash_key = "due_key", range_key = "due_at" } }
      ttl_attribute = "expires_at"
    }
    idempotency = {
      hash_key      = "id"
      range_key     = null
      attributes    = { id = "S" }
      indexes       = {}
      ttl_attribute = "expiration"
    }
    # Spot fleets (fleets.tf): only while var.fleets is not empty.
    fleets = {
      hash_key      = "fleet"
      range_key     = "sk"
      attributes    = { fleet = "S", sk = "S" }
      indexes       = {}
      ttl_attribute = "expires_at"
    }
    # Migrations (migrations.tf): only while var.migrations.enabled.
    migrations = {
      hash_key      = "pk"
      range_key     = null
      attributes    = { pk = "S", due_key = "S", due_at = "N", kind_key = "S", created_at = "N" }
      indexes       = { due = { hash_key = "due_key", range_key = "due_at" }, recent = { hash_key = "kind_key", range_key = "created_at" } }
      ttl_attribute = "expires_at"
    }
  }

  # A table and its indexes, for DynamoDB statements.
  table_resources = { for k, t in aws_dynamodb_table.this : k => [t.arn, "${t.arn}/index/*"] }
}

################################################################################
# DynamoDB
################################################################################

resource "aws_dynamodb_table" "this" {
  for_each = { for k, t in local.tables : k => t if(k != "fleets" || local.create_fleets) && (k != "migrations" || local.create_migrations) }

  #checkov:skip=CKV_AWS_119:Encrypted at rest with the AWS managed key by default; var.kms_key_arn switches to a customer managed key.
  region                      = local.home_region
  name                        = "${var.name}-${each.key}"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = each.value.hash_key
  range_key                   = each.value.range_key
  deletion_protection_enabled = var.deletion_protection

  dynamic "attribute" {
    for_each = each.value.attributes
    content {
      name = attribute.key
      type = attribute.value
    }
  }

  dynamic "global_secondary_index" {
    for_each = each.value.indexes
    content {
      name            = global_secondary_index.key
      hash_key        = global_secondary_index.value.hash_key
      range_key       = global_secondary_index.value.range_key
      projection_type = "ALL"
    }
  }

  # Exported tables stream both images to the exporter (export.tf).
  stream_enabled   = contains(keys(local.exported_tables), each.key)
  stream_view_type = contains(keys(local.exported_tables), each.key) ? "NEW_AND_OLD_IMAGES" : null

  ttl {
    enabled        = true
    attribute_name = each.value.ttl_attribute
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.kms_key_arn
  }

  tags = var.tags
}
