################################################################################
# Migrations between Regions (issue #13; carbon_aware.runtime.migrations): the migrations table
# (one item per migration, one lock item per subject, conditional writes, an audit history) and
# the migrations function, which steps every migration due on var.migrations.step_schedule.
# Nothing here exists unless var.migrations.enabled.
################################################################################

locals {
  create_migrations = var.migrations.enabled

  # carbon_aware.runtime.migrations.settings; the api (routes) and the fleet optimizer (a fleet a
  # migration holds is left alone) read the table too.
  migrations_environment = {
    CARBON_AWARE_MIGRATIONS_TABLE       = try(aws_dynamodb_table.this["migrations"].name, null)
    CARBON_AWARE_MIGRATION_TIMEOUTS     = local.create_migrations ? jsonencode(var.migrations.state_timeouts) : null
    CARBON_AWARE_MIGRATION_POLL_SECONDS = local.create_migrations ? var.migrations.poll_seconds : null
    CARBON_AWARE_MIGRATION_LIVE         = local.create_migrations ? tostring(var.migrations.live) : null
    CARBON_AWARE_MIGRATION_SERVICES     = length(local.migration_services) > 0 ? jsonencode(local.migration_services) : null
  }
  # The trigger pass (runtime.migrations.triggers): whether it runs, and the policy it applies.
  migration_trigger_environment = {
    CARBON_AWARE_MIGRATION_AUTO   = tostring(var.migrations.auto)
    CARBON_AWARE_MIGRATION_POLICY = jsonencode(var.migrations.policy)
  }
  migration_table_resources = local.create_migrations ? local.table_resources["migrations"] : []

  # blue_green's services (runtime.migrations.strategies.blue_green): their groups, the hosted
  # zones of their weighted records, their health checks.
  migration_services = local.create_migrations ? var.migrations.services : {}
  service_group_arns = flatten([
    for s in values(local.migration_services) : [
      for r, e in s.regions : "arn:${local.partition}:autoscaling:${r}:${local.account_id}:autoScalingGroup:*:autoScalingGroupName/${e.group}"
    ]
  ])
  service_zone_arns = distinct([for s in values(local.migration_services) : "arn:${local.partition}:route53:::hostedzone/${s.zone_id}"])
  service_health_check_arns = distinct(flatten([
    for s in values(local.migration_services) : [
      for e in values(s.regions) : "arn:${local.partition}:route53:::healthcheck/${e.health_check_id}" if e.health_check_id != null
    ]
  ]))
  # What validating a blue_green move reads (the migrations function, and the api's dry runs):
  # the weighted records and the health checks. Their groups are read with "*" (below).
  service_read_statements = length(local.migration_services) == 0 ? [] : concat([{
    Sid      = "ServiceRecordsRead"
    Effect   = "Allow"
    Action   = ["route53:ListResourceRecordSets"]
    Resource = local.service_zone_arns
    }], length(local.service_health_check_arns) == 0 ? [] : [{
    Sid      = "ServiceHealthChecks"
    Effect   = "Allow"
    Action   = ["route53:GetHealthCheckStatus"]
    Resource = local.service_health_check_arns
  }])

  # Migrations and their locks (runtime.migrations.repository): conditional PutItem, and the
  # TransactWriteItems of a start (Put, Put) and of a final transition (Put, Delete).
  migration_table_statements = local.create_migrations ? [{
    Sid      = "Migrations"
    Effect   = "Allow"
    Action   = ["dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"]
    Resource = local.migration_table_resources
  }] : []

  migrations_statements = concat(
    local.migration_table_statements,
    [{
      # checkpoint_restore points the workload record at the target run.
      Sid      = "Workloads"
      Effect   = "Allow"
      Action   = ["dynamodb:GetItem", "dynamodb:UpdateItem"]
      Resource = [aws_dynamodb_table.this["workloads"].arn]
    }],
    local.create_fleets ? [
      {
        # drain_and_shift commits the new split as the fleet's allocation.
        Sid      = "FleetState"
        Effect   = "Allow"
        Action   = ["dynamodb:GetItem", "dynamodb:PutItem"]
        Resource = [try(aws_dynamodb_table.this["fleets"].arn, null)]
      },
      {
        Sid      = "FleetGroupsWrite"
        Effect   = "Allow"
        Action   = ["autoscaling:SetDesiredCapacity"]
        Resource = local.fleet_group_arns
      },
    ] : [],
    !(local.create_fleets || length(local.migration_services) > 0) ? [] : [{
      # drain_and_shift's fleet groups and blue_green's service groups: Describe calls of Auto
      # Scaling have no resource-level permissions.
      Sid      = "GroupsRead"
      Effect   = "Allow"
      Action   = ["autoscaling:DescribeAutoScalingGroups"]
      Resource = ["*"]
    }],
    local.service_read_statements,
    length(local.migration_services) == 0 ? [] : [{
      # blue_green launches the target and drains the source (never below its minimum).
      Sid      = "ServiceGroupsWrite"
      Effect   = "Allow"
      Action   = ["autoscaling:SetDesiredCapacity"]
      Resource = local.service_group_arns
    }],
    length(local.migration_services) == 0 ? [] : [{
      # blue_green shifts traffic: UPSERTs of the services' weighted records only.
      Sid      = "ServiceWeights"
      Effect   = "Allow"
      Action   = ["route53:ChangeResourceRecordSets"]
      Resource = local.service_zone_arns
      Condition = {
        "ForAllValues:StringEquals" = {
          "route53:ChangeResourceRecordSetsNormalizedRecordNames" = distinct([for s in values(local.migration_services) : lower(trimsuffix(s.record_name, "."))])
          "route53:ChangeResourceRecordSetsRecordTypes"           = distinct([for s in values(local.migration_services) : s.record_type])
          "route53:ChangeResourceRecordSetsActions"               = ["UPSERT"]
        }
      }
    }],
    !var.migrations.auto ? [] : concat(local.signal_reader_statements, [{
      # The trigger pass lists the running workloads (the due index, RUNNING#<shard>).
      Sid      = "RunningWorkloads"
      Effect   = "Allow"
      Action   = ["dynamodb:Query"]
      Resource = ["${aws_dynamodb_table.this["workloads"].arn}/index/due"]
    }]),
    local.checkpoint_statements,
    length(local.checkpoint_buckets) == 0 ? [] : [{
      # A rollback deletes what it copied into the target's prefix.
      Sid      = "CheckpointRollback"
      Effect   = "Allow"
      Action   = ["s3:DeleteObject"]
      Resource = [for b in aws_s3_bucket.checkpoints : "${b.arn}/checkpoints/*"]
    }],
    length(compact(values(local.checkpoint_kms_key_arns))) == 0 ? [] : [{
      # ... and the snapshot copies it made (tagged carbon-aware:copied-from at creation).
      Sid       = "SnapshotCopyRollback"
      Effect    = "Allow"
      Action    = ["ec2:DeleteSnapshot"]
      Resource  = ["arn:${local.partition}:ec2:*::snapshot/*"]
      Condition = { Null = { "aws:ResourceTag/carbon-aware:copied-from" = "false" } }
    }],
    length(local.checkpoint_buckets) == 0 ? [] : [{
      Sid       = "CheckpointListing"
      Effect    = "Allow"
      Action    = ["s3:ListBucket"]
      Resource  = [for b in aws_s3_bucket.checkpoints : b.arn]
      Condition = { StringLike = { "s3:prefix" = ["checkpoints/*"] } }
    }],
    length(local.targets.ecs_task_definition_arns) == 0 ? [] : [
      {
        Sid       = "EcsTargets"
        Effect    = "Allow"
        Action    = ["ecs:RunTask"]
        Resource  = local.targets.ecs_task_definition_arns
        Condition = { ArnEquals = { "ecs:cluster" = local.targets.ecs_cluster_arns } }
      },
      {
        Sid       = "EcsRuns"
        Effect    = "Allow"
        Action    = ["ecs:DescribeTasks", "ecs:StopTask"]
        Resource  = local.run_resources.ecs_tasks
        Condition = { ArnEquals = { "ecs:cluster" = local.targets.ecs_cluster_arns } }
      },
      {
        # ListTasks has no task resource: it is granted per cluster by condition.
        Sid       = "EcsRunsOfAWorkload"
        Effect    = "Allow"
        Action    = ["ecs:ListTasks"]
        Resource  = ["*"]
        Condition = { ArnEquals = { "ecs:cluster" = local.targets.ecs_cluster_arns } }
      },
    ],
    length(local.targets.pass_role_arns) == 0 ? [] : [{
      Sid       = "PassTargetRoles"
      Effect    = "Allow"
      Action    = ["iam:PassRole"]
      Resource  = local.targets.pass_role_arns
      Condition = { StringEquals = { "iam:PassedToService" = ["ecs-tasks.amazonaws.com"] } }
    }],
  )
}

################################################################################
# Periodic step of the migrations due
################################################################################

resource "aws_cloudwatch_event_rule" "migrations" {
  count = local.create_migrations ? 1 : 0

  region              = local.home_region
  name                = "${var.name}-migrations"
  description         = "Invokes ${local.function_names["migrations"]} on ${var.migrations.step_schedule}."
  schedule_expression = var.migrations.step_schedule

  tags = var.tags
}

resource "aws_cloudwatch_event_target" "migrations" {
  count = local.create_migrations ? 1 : 0

  region = local.home_region
  rule   = aws_cloudwatch_event_rule.migrations[0].name
  arn    = module.function["migrations"].function_arn
}

resource "aws_lambda_permission" "migrations" {
  count = local.create_migrations ? 1 : 0

  region        = local.home_region
  statement_id  = "AllowEventBridge-migrations"
  action        = "lambda:InvokeFunction"
  function_name = module.function["migrations"].function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.migrations[0].arn
}
