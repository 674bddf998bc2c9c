################################################################################
# Functions: handler, settings, environment and IAM statements of each. Everything the
# handlers read or call is here, so syncing with the runtime means editing this map.
################################################################################

locals {
  function_names = { for k in ["api", "intake", "monitor", "scheduler", "executor", "completion", "exporter", "fleet_optimizer", "interruptions", "migrations"] : k => "${var.name}-${k}" }
  function_arns  = { for k, n in local.function_names : k => "arn:${local.partition}:lambda:${local.home_region}:${local.account_id}:function:${n}" }

  # Functions invoked asynchronously (events, schedules) get a dead-letter queue; so do the
  # exporter, for the stream batches its mapping gives up on, and the interruptions function, whose
  # queue redrives to it.
  async_functions = toset(concat(["intake", "monitor", "scheduler", "executor", "completion", "exporter", "interruptions"], local.create_fleets ? ["fleet_optimizer"] : [], local.create_migrations ? ["migrations"] : []))

  function_defaults = {
    api             = { memory_size = 256, timeout = 15 }
    intake          = { memory_size = 256, timeout = 30 }
    monitor         = { memory_size = 512, timeout = 300 }
    scheduler       = { memory_size = 1024, timeout = 300 }
    executor        = { memory_size = 256, timeout = 60 }
    completion      = { memory_size = 256, timeout = 60 }
    exporter        = { memory_size = 256, timeout = 60 }
    fleet_optimizer = { memory_size = 512, timeout = 120 }
    interruptions   = { memory_size = 512, timeout = 120 }
    migrations      = { memory_size = 512, timeout = 120 }
  }

  function_timeouts = { for k, d in local.function_defaults : k => coalesce(try(var.function_settings[k].timeout, null), d.timeout) }

  # Environment variable names: carbon_aware.runtime.config (api, scheduler, executor, completion)
  # and carbon_aware.runtime.monitor_config (monitor); tests/terraform/test_drift.py compares.
  common_environment = {
    POWERTOOLS_SERVICE_NAME      = var.name
    POWERTOOLS_METRICS_NAMESPACE = local.metrics_namespace
    POWERTOOLS_LOG_LEVEL         = var.log_level
    CARBON_AWARE_REGIONS         = join(",", var.regions)
    POWERTOOLS_TRACE_DISABLED    = !var.tracing_enabled
  }

  # Functions that read the region catalog (monitor, scheduler, completion) apply the zone overrides.
  catalog_environment = {
    CARBON_AWARE_REGION_ZONES = length(var.region_zones) == 0 ? null : jsonencode(var.region_zones)
  }

  # Submissions are checked (api, intake), planned (scheduler) and started (executor) against
  # the checkpoint storage of interruptible runs (checkpoints.tf).
  workload_environment = merge({
    CARBON_AWARE_HOME_REGION       = local.home_region
    CARBON_AWARE_WORKLOADS_TABLE   = aws_dynamodb_table.this["workloads"].name
    CARBON_AWARE_DEFAULT_STRATEGY  = var.strategy
    CARBON_AWARE_NAME_PREFIX       = var.name
    CARBON_AWARE_WORKLOAD_TTL_DAYS = var.workload_ttl_days
  }, local.checkpoint_environment)

  # Planning (scheduler) and accounting (completion) read carbon signals from the monitor's cache.
  signal_reader_environment = merge(local.catalog_environment, {
    CARBON_AWARE_SIGNALS_TABLE = aws_dynamodb_table.this["signals"].name
    CARBON_AWARE_SIGNAL_TYPE   = var.signal_type
  })
  signal_reader_statements = [{
    Sid      = "SignalsRead"
    Effect   = "Allow"
    Action   = ["dynamodb:Query"]
    Resource = [aws_dynamodb_table.this["signals"].arn]
  }]

  # Submitting (api, intake: carbon_aware.runtime.handlers.api.accept): idempotency records, and
  # planning at once. A repeated key gets the stored record back from the conditional PutItem
  # (ALL_OLD), so no GetItem.
  submit_environment = {
    CARBON_AWARE_IDEMPOTENCY_TABLE = aws_dynamodb_table.this["idempotency"].name
    CARBON_AWARE_SCHEDULER_ARN     = local.function_arns["scheduler"]
    # Submissions are checked against the allow-list at the door (runtime.submission).
    CARBON_AWARE_TARGET_ALLOWLIST = jsonencode(local.target_allowlist)
  }
  submit_statements = [
    {
      Sid      = "Idempotency"
      Effect   = "Allow"
      Action   = ["dynamodb:DeleteItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]
      Resource = [aws_dynamodb_table.this["idempotency"].arn]
    },
    {
      Sid      = "PlanOnSubmit"
      Effect   = "Allow"
      Action   = ["lambda:InvokeFunction"]
      Resource = [local.function_arns["scheduler"]]
    },
  ]

  # Cancelling a workload (api) and re-planning it (scheduler) delete its one-time schedule.
  schedule_group_environment = {
    CARBON_AWARE_SCHEDULE_GROUP = aws_scheduler_schedule_group.this.name
  }
  schedule_resources = ["${replace(aws_scheduler_schedule_group.this.arn, ":schedule-group/", ":schedule/")}/*"]

  # What the executor may start: every resource ARN of the allow-list (fnmatch patterns), and
  # the module's own runner event buses.
  target_allowlist = flatten([
    [for k, arns in var.execution_targets : arns if k != "pass_role_arns"],
    values(local.runner_event_bus_arns),
  ])

  # Starting targets: the executor does it, and so does the scheduler's sweeper when a schedule
  # was lost or an executor died mid-dispatch (carbon_aware.runtime.sweeper).
  dispatch_environment = {
    CARBON_AWARE_DLQ_URL                  = aws_sqs_queue.dlq["executor"].url
    CARBON_AWARE_TARGET_ALLOWLIST         = jsonencode(local.target_allowlist)
    CARBON_AWARE_DISPATCH_TIMEOUT_SECONDS = var.dispatch_timeout_seconds
    # The expected end of a run plus this is when the sweeper's watchdog first looks at it.
    CARBON_AWARE_RUNNING_GRACE_SECONDS = var.running_grace_minutes * 60
    CARBON_AWARE_RUN_TIMEOUT_SECONDS   = var.run_timeout_minutes * 60
  }
  dispatch_statements = concat(
    local.checkpoint_statements,
    [{
      # A dispatch that fails for good leaves a dead letter (carbon_aware.runtime.dispatcher).
      Sid      = "DispatchDeadLetters"
      Effect   = "Allow"
      Action   = ["sqs:SendMessage"]
      Resource = [aws_sqs_queue.dlq["executor"].arn]
    }],
    length(local.targets.lambda_function_arns) == 0 ? [] : [{
      Sid      = "LambdaTargets"
      Effect   = "Allow"
      Action   = ["lambda:InvokeFunction"]
      Resource = local.targets.lambda_function_arns
    }],
    length(local.targets.ecs_task_definition_arns) == 0 ? [] : [{
      Sid       = "EcsTargets"
      Effect    = "Allow"
      Action    = ["ecs:RunTask"]
      Resource  = local.targets.ecs_task_definition_arns
      Condition = { ArnEquals = { "ecs:cluster" = local.targets.ecs_cluster_arns } }
    }],
    length(local.targets.pass_role_arns) == 0 ? [] : [{
      Sid       = "PassTargetRoles"
      Effect    = "Allow"
      Action    = ["iam:PassRole"]
      Resource  = local.targets.pass_role_arns
      Condition = { StringEquals = { "iam:PassedToService" = ["ecs-tasks.amazonaws.com"] } }
    }],
    length(local.targets.batch_job_queue_arns) == 0 ? [] : [{
      Sid      = "BatchTargets"
      Effect   = "Allow"
      Action   = ["batch:SubmitJob"]
      Resource = concat(local.targets.batch_job_queue_arns, local.targets.batch_job_definition_arns)
    }],
    length(local.targets.state_machine_arns) == 0 ? [] : [{
      Sid      = "StepFunctionsTargets"
      Effect   = "Allow"
      Action   = ["states:StartExecution"]
      Resource = local.targets.state_machine_arns
    }],
    length(local.targets.task_token_state_machine_arns) == 0 ? [] : [{
      # A task_token target resumes its waiting execution (carbon_aware.runtime.targets).
      Sid      = "TaskTokenTargets"
      Effect   = "Allow"
      Action   = ["states:SendTaskSuccess"]
      Resource = local.targets.task_token_state_machine_arns
    }],
    length(local.targets.event_bus_arns) + length(local.runner_event_bus_arns) == 0 ? [] : [{
      Sid      = "EventTargets"
      Effect   = "Allow"
      Action   = ["events:PutEvents"]
      Resource = concat(local.targets.event_bus_arns, values(local.runner_event_bus_arns))
    }],
  )

  # Runs already started (carbon_aware.runtime.runs): the scheduler's watchdog asks about
  # overdue ones, the api stops cancelled ones; only tasks, jobs and executions of allow-listed
  # clusters, queues and state machines.
  run_resources = {
    ecs_tasks  = [for c in local.targets.ecs_cluster_arns : replace(c, "/:cluster\\/(.*)$/", ":task/$1/*")]
    batch_jobs = [for q in local.targets.batch_job_queue_arns : replace(q, "/:job-queue\\/.*$/", ":job/*")]
    executions = [for m in local.targets.state_machine_arns : replace(m, "/:stateMachine:(.*)$/", ":execution:$1:*")]
  }
  watch_statements = concat(
    length(local.run_resources.ecs_tasks) == 0 ? [] : [{
      Sid       = "EcsRunStatus"
      Effect    = "Allow"
      Action    = ["ecs:DescribeTasks"]
      Resource  = local.run_resources.ecs_tasks
      Condition = { ArnEquals = { "ecs:cluster" = local.targets.ecs_cluster_arns } }
    }],
    length(local.run_resources.batch_jobs) == 0 ? [] : [{
      # batch:DescribeJobs has no resource-level permissions: it can only be granted on "*".
      Sid      = "BatchRunStatus"
      Effect   = "Allow"
      Action   = ["batch:DescribeJobs"]
      Resource = ["*"]
    }],
    length(local.run_resources.executions) == 0 ? [] : [{
      Sid      = "StepFunctionsRunStatus"
      Effect   = "Allow"
      Action   = ["states:DescribeExecution"]
      Resource = local.run_resources.executions
    }],
  )
  # At a segment's end the executor stops its run (SIGTERM: the workload checkpoints); only
  # ECS tasks and Batch jobs run interruptible workloads (carbon_aware.runtime.segments).
  segment_stop_statements = concat(
    length(local.run_resources.ecs_tasks) == 0 ? [] : [{
      Sid       = "EcsRunStop"
      Effect    = "Allow"
      Action    = ["ecs:StopTask"]
      Resource  = local.run_resources.ecs_tasks
      Condition = { ArnEquals = { "ecs:cluster" = local.targets.ecs_cluster_arns } }
    }],
    length(local.run_resources.batch_jobs) == 0 ? [] : [{
      Sid      = "BatchRunStop"
      Effect   = "Allow"
      Action   = ["batch:TerminateJob"]
      Resource = local.run_resources.batch_jobs
    }],
  )
  cancel_statements = concat(
    local.segment_stop_statements,
    length(local.run_resources.executions) == 0 ? [] : [{
      Sid      = "StepFunctionsRunStop"
      Effect   = "Allow"
      Action   = ["states:StopExecution"]
      Resource = local.run_resources.executions
    }],
  )

  credential_arns = { for k, c in var.provider_credentials : k => coalesce(c.secret_arn, c.ssm_parameter_arn) }
  secret_arns     = compact([for c in values(var.provider_credentials) : c.secret_arn])
  parameter_arns  = compact([for c in values(var.provider_credentials) : c.ssm_parameter_arn])

  targets = var.execution_targets
  runner_event_bus_arns = {
    for r, m in module.regional : r => m.runner_event_bus_arn if m.runner_event_bus_arn != null
  }

  # The functions deployed: the fleet optimizer only with fleets (fleets.tf), the migrations
  # function only with migrations (migrations.tf).
  functions = { for k, f in local.function_definitions : k => f if(k != "fleet_optimizer" || local.create_fleets) && (k != "migrations" || local.create_migrations) }

  function_definitions = {
    api = {
      description = "Submit, get, cancel and list workloads."
      handler     = "carbon_aware.runtime.handlers.api.handler"
      # Cancelling a running workload stops its target and accounts its grams until then.
      # GET /fleets* reads the fleets' settings and decisions (fleets.tf); /migrations* lists,
      # starts (a dry run reads the fleet's or service's groups, a service's weighted records and
      # health checks) and cancels migrations (migrations.tf).
      environment = merge(local.workload_environment, local.schedule_group_environment, local.submit_environment, local.signal_reader_environment, local.fleets_environment, local.migrations_environment)
      statements = concat([
        {
          Sid      = "Workloads"
          Effect   = "Allow"
          Action   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem"]
          Resource = local.table_resources["workloads"]
        },
        {
          Sid      = "CancelSchedules"
          Effect   = "Allow"
          Action   = ["scheduler:DeleteSchedule"]
          Resource = local.schedule_resources
        },
        ], local.submit_statements, local.signal_reader_statements, local.cancel_statements, !local.create_fleets ? [] : [{
          Sid      = "FleetsRead"
          Effect   = "Allow"
          Action   = ["dynamodb:GetItem", "dynamodb:Query"]
          Resource = [try(aws_dynamodb_table.this["fleets"].arn, null)]
          }], local.migration_table_statements, !(local.create_migrations && (local.create_fleets || length(local.migration_services) > 0)) ? [] : [{
          Sid      = "MigrationDryRuns"
          Effect   = "Allow"
          Action   = ["autoscaling:DescribeAutoScalingGroups"]
          Resource = ["*"]
      }], local.service_read_statements)
    }

    intake = {
      description = "Submits \"Workload Submitted\" events from the control bus like the API; rejects are queued."
      handler     = "carbon_aware.runtime.handlers.intake.handler"
      environment = merge(local.workload_environment, local.submit_environment, {
        CARBON_AWARE_REJECTS_QUEUE_URL = aws_sqs_queue.rejected_submissions.url
      })
      statements = concat([
        {
          Sid      = "Workloads"
          Effect   = "Allow"
          Action   = ["dynamodb:PutItem"]
          Resource = [aws_dynamodb_table.this["workloads"].arn]
        },
        {
          Sid      = "RejectedSubmissions"
          Effect   = "Allow"
          Action   = ["sqs:SendMessage"]
          Resource = [aws_sqs_queue.rejected_submissions.arn]
        },
      ], local.submit_statements)
    }

    monitor = {
      description = "Refreshes carbon observations and forecasts for every Region."
      handler     = "carbon_aware.runtime.handlers.monitor.handler"
      environment = merge(local.catalog_environment, {
        CARBON_AWARE_SIGNALS_TABLE            = aws_dynamodb_table.this["signals"].name
        CARBON_AWARE_SIGNAL_TYPE              = var.signal_type
        CARBON_AWARE_REFRESH_MINUTES          = var.refresh_interval_minutes
        CARBON_AWARE_OBSERVATION_TTL_DAYS     = var.observation_ttl_days
        CARBON_AWARE_FORECAST_TTL_DAYS        = var.forecast_ttl_days
        CARBON_AWARE_ELECTRICITYMAPS_SECRET   = try(local.credential_arns["electricitymaps"], null)
        CARBON_AWARE_WATTTIME_SECRET          = try(local.credential_arns["watttime"], null)
        CARBON_AWARE_ELECTRICITYMAPS_URL      = try(var.provider_base_urls["electricitymaps"], null)
        CARBON_AWARE_WATTTIME_URL             = try(var.provider_base_urls["watttime"], null)
        CARBON_AWARE_UKCI_URL                 = try(var.provider_base_urls["ukci"], null)
        CARBON_AWARE_PROVIDER_CHAIN           = var.provider_chain == null ? null : join(",", var.provider_chain)
        CARBON_AWARE_FORECAST_REFRESH_MINUTES = var.forecast_refresh_minutes
        CARBON_AWARE_FORECAST_HOURS           = var.forecast_hours
        CARBON_AWARE_EMISSION_FACTOR_TYPE     = var.emission_factor_type
        CARBON_AWARE_UKCI_REGIONS             = length(var.ukci_regions) == 0 ? null : join(",", [for r, id in var.ukci_regions : "${r}=${id}"])
        CARBON_AWARE_PRICE_LIST_REGION        = local.refresh_prices ? local.price_list_region : null
        CARBON_AWARE_PRICED_INSTANCE_TYPES    = local.refresh_prices && length(var.priced_instance_types) > 0 ? join(",", var.priced_instance_types) : null
      })
      statements = concat(
        [{
          Sid      = "SignalsCache"
          Effect   = "Allow"
          Action   = ["dynamodb:BatchGetItem", "dynamodb:BatchWriteItem", "dynamodb:PutItem", "dynamodb:Query"]
          Resource = [aws_dynamodb_table.this["signals"].arn]
        }],
        local.refresh_prices ? [{
          Sid      = "PriceList"
          Effect   = "Allow"
          Action   = ["pricing:GetProducts"]
          Resource = ["*"]
        }] : [],
        length(local.secret_arns) == 0 ? [] : [{
          Sid      = "ProviderSecrets"
          Effect   = "Allow"
          Action   = ["secretsmanager:GetSecretValue"]
          Resource = local.secret_arns
        }],
        length(local.parameter_arns) == 0 ? [] : [{
          Sid      = "ProviderParameters"
          Effect   = "Allow"
          Action   = ["ssm:GetParameter"]
          Resource = local.parameter_arns
        }],
        var.provider_credentials_kms_key_arn == null ? [] : [{
          Sid      = "ProviderCredentialsKey"
          Effect   = "Allow"
          Action   = ["kms:Decrypt"]
          Resource = [var.provider_credentials_kms_key_arn]
        }],
      )
    }

    scheduler = {
      description = "Places pending workloads, creates their one-time schedules, re-plans and sweeps."
      handler     = "carbon_aware.runtime.handlers.scheduler.handler"
      environment = merge(local.workload_environment, local.dispatch_environment, local.signal_reader_environment, local.schedule_group_environment, {
        CARBON_AWARE_SCHEDULER_ROLE_ARN   = local.service_role_arns["schedules"]
        CARBON_AWARE_SCHEDULE_KMS_KEY_ARN = var.kms_key_arn
        CARBON_AWARE_EXECUTOR_ARN         = local.function_arns["executor"]
        CARBON_AWARE_REPLAN_THRESHOLD     = var.replan_threshold_percent / 100
        CARBON_AWARE_SWEEPER_WORKERS      = var.sweeper_workers
        # Module-wide defaults of the blended strategies (a workload's own options win).
        CARBON_AWARE_STRATEGY_WEIGHTS         = jsonencode(var.strategy_weights)
        CARBON_AWARE_CARBON_PRICE_USD_PER_TON = var.carbon_price_usd_per_tonne
        CARBON_AWARE_MAX_CARBON_INTENSITY     = var.max_carbon_intensity
        CARBON_AWARE_MAX_COST_PER_HOUR        = var.max_cost_per_hour
      })
      statements = concat([
        {
          Sid      = "Workloads"
          Effect   = "Allow"
          Action   = ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:UpdateItem"]
          Resource = local.table_resources["workloads"]
        },
        {
          Sid      = "Schedules"
          Effect   = "Allow"
          Action   = ["scheduler:CreateSchedule", "scheduler:DeleteSchedule"]
          Resource = local.schedule_resources
        },
        {
          Sid       = "PassSchedulerRole"
          Effect    = "Allow"
          Action    = ["iam:PassRole"]
          Resource  = [local.service_role_arns["schedules"]]
          Condition = { StringEquals = { "iam:PassedToService" = "scheduler.amazonaws.com" } }
        },
      ], local.signal_reader_statements, local.dispatch_statements, local.watch_statements)
    }

    executor = {
      description = "Claims a due workload and starts its target in the chosen Region."
      handler     = "carbon_aware.runtime.handlers.executor.handler"
      environment = merge(local.workload_environment, local.dispatch_environment)
      statements = concat([{
        Sid      = "Workloads"
        Effect   = "Allow"
        Action   = ["dynamodb:GetItem", "dynamodb:UpdateItem"]
        Resource = [aws_dynamodb_table.this["workloads"].arn]
      }], local.dispatch_statements, local.segment_stop_statements)
    }

    completion = {
      description = "Records the end, duration, emissions and savings of finished workloads."
      handler     = "carbon_aware.runtime.handlers.completion.handler"
      environment = merge(local.workload_environment, local.signal_reader_environment)
      statements = concat([
        {
          Sid      = "Workloads"
          Effect   = "Allow"
          Action   = ["dynamodb:GetItem", "dynamodb:UpdateItem"]
          Resource = [aws_dynamodb_table.this["workloads"].arn]
        },
      ], local.signal_reader_statements)
    }

    fleet_optimizer = {
      description = "Spreads each Spot fleet across its Regions by carbon, price and capacity; sets the scaling targets."
      handler     = "carbon_aware.runtime.handlers.fleet_optimizer.handler"
      environment = merge(local.signal_reader_environment, local.fleets_environment, {
        CARBON_AWARE_PLACEMENT_SCORE_DAILY_BUDGET = var.placement_score_daily_budget
        # A fleet a migration holds is left alone (its lock item).
        CARBON_AWARE_MIGRATIONS_TABLE = local.migrations_environment.CARBON_AWARE_MIGRATIONS_TABLE
      })
      statements = concat(local.fleet_optimizer_statements, local.signal_reader_statements, !local.create_migrations ? [] : [{
        Sid      = "MigrationHolds"
        Effect   = "Allow"
        Action   = ["dynamodb:GetItem"]
        Resource = [try(aws_dynamodb_table.this["migrations"].arn, null)]
      }])
    }

    migrations = {
      description = "Proposes migrations of running work from the policy (migrations.auto), then steps every migration between Regions that is due (drain_and_shift, checkpoint_restore, blue_green)."
      handler     = "carbon_aware.runtime.handlers.migrations.handler"
      environment = merge(local.workload_environment, local.fleets_environment, local.migrations_environment, local.migration_trigger_environment, local.signal_reader_environment, {
        CARBON_AWARE_TARGET_ALLOWLIST = jsonencode(local.target_allowlist)
      })
      statements = local.migrations_statements
    }

    interruptions = {
      description = "Acts on spot interruption warnings, rebalance recommendations, lifecycle actions and spot-stopped tasks from every Region."
      handler     = "carbon_aware.runtime.handlers.interruptions.handler"
      environment = merge(local.workload_environment, local.signal_reader_environment, local.schedule_group_environment, local.fleets_environment, local.interruption_environment)
      statements  = concat(local.interruption_statements, local.signal_reader_statements)
    }

    exporter = {
      description = "Exports final and expired table records from DynamoDB Streams to S3 as JSON lines."
      handler     = "carbon_aware.runtime.handlers.exporter.handler"
      environment = {
        CARBON_AWARE_REGIONS       = null # not read: the table comes with each stream record
        CARBON_AWARE_EXPORT_BUCKET = local.export_bucket
        CARBON_AWARE_EXPORT_PREFIX = var.export_prefix
      }
      statements = [{
        Sid      = "ExportObjects"
        Effect   = "Allow"
        Action   = ["s3:PutObject"]
        Resource = ["${local.export_bucket_arn}/${var.export_prefix}/*"]
      }]
    }
  }
}

################################################################################
# Functions
################################################################################

resource "aws_sqs_queue" "dlq" {
  for_each = local.async_functions

  region                            = local.home_region
  name                              = "${var.name}-${each.key}-dlq"
  message_retention_seconds         = 1209600
  sqs_managed_sse_enabled           = var.kms_key_arn == null ? true : null
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = var.kms_key_arn == null ? null : 3600

  tags = var.tags
}

# "Workload Submitted" events the intake function rejects, each with its errors: never lost.
resource "aws_sqs_queue" "rejected_submissions" {
  region                            = local.home_region
  name                              = "${var.name}-rejected-submissions"
  message_retention_seconds         = 1209600
  sqs_managed_sse_enabled           = var.kms_key_arn == null ? true : null
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = var.kms_key_arn == null ? null : 3600

  tags = var.tags
}

module "function" {
  source   = "./modules/function"
  for_each = local.functions

  region        = local.home_region
  function_name = local.function_names[each.key]
  description   = each.value.description
  handler       = each.value.handler
  architecture  = var.architecture

  filename                = local.lambda_packages[each.key].filename
  source_code_hash        = local.lambda_packages[each.key].source_code_hash
  s3_bucket               = local.lambda_packages[each.key].s3_bucket
  s3_key                  = local.lambda_packages[each.key].s3_key
  s3_object_version       = local.lambda_packages[each.key].s3_object_version
  code_signing_config_arn = var.code_signing_config_arn
  tracing_enabled         = var.tracing_enabled

  create_role               = !contains(keys(var.function_role_arns), each.key)
  role_arn                  = lookup(var.function_role_arns, each.key, null)
  role_path                 = var.role_path
  role_permissions_boundary = var.role_permissions_boundary

  memory_size                    = coalesce(try(var.function_settings[each.key].memory_size, null), local.function_defaults[each.key].memory_size)
  timeout                        = local.function_timeouts[each.key]
  reserved_concurrent_executions = coalesce(try(var.function_settings[each.key].reserved_concurrent_executions, null), -1)

  environment_variables = {
    for k, v in merge(local.common_environment, each.value.environment) : k => tostring(v) if v != null
  }
  policy_statements        = each.value.statements
  attach_dead_letter_queue = contains(local.async_functions, each.key)
  dead_letter_target_arn   = try(aws_sqs_queue.dlq[each.key].arn, null)
  dead_letter_queue_name   = try(aws_sqs_queue.dlq[each.key].name, null)
  event_source_stream_arns = [for t in keys(local.exported_tables) : "${aws_dynamodb_table.this[t].arn}/stream/*" if each.key == "exporter"]
  event_source_queue_arns  = each.key == "interruptions" ? [local.interruption_queue_arn] : []

  log_retention_in_days = var.log_retention_in_days
  kms_key_arn           = var.kms_key_arn
  vpc_config            = var.vpc_config
  create_alarms         = var.create_alarms
  alarm_actions         = local.alarm_actions

  tags = var.tags
}
