################################################################################
# Spot interruptions (issue #12): in every Region of var.regions (workloads run there, Fargate Spot
# tasks included, and every fleet Region must be one of them), an EventBridge rule on the default
# bus forwards interruption events to the interruptions bus in the home Region (EventBridge
# delivers across Regions only to an event bus, with a role); a rule there sends them to an SQS
# queue (dead-letter queue after 5 receives: the function's own, which also takes its failed
# asynchronous self-checks), which the interruptions function polls with partial batch failures. The function checks the wiring on its first batch and on a schedule.
################################################################################

locals {
  interruption_regions = toset(var.regions)

  # carbon_aware.runtime.interruptions.events.DETAIL_TYPES
  interruption_event_pattern = jsonencode({
    "$or" = [
      {
        source        = ["aws.ec2"]
        "detail-type" = ["EC2 Spot Instance Interruption Warning", "EC2 Instance Rebalance Recommendation"]
      },
      {
        source        = ["aws.ec2"]
        "detail-type" = ["EC2 Instance State-change Notification"]
        detail        = { state = ["stopping", "stopped", "shutting-down", "terminated"] }
      },
      {
        source        = ["aws.health"]
        "detail-type" = ["AWS Health Event"]
        detail        = { service = ["EC2"], eventTypeCategory = ["scheduledChange"] }
      },
      {
        # Only the fleets' groups (named "<name>-<fleet>").
        source        = ["aws.autoscaling"]
        "detail-type" = ["EC2 Instance-terminate Lifecycle Action"]
        detail        = { AutoScalingGroupName = [{ prefix = "${var.name}-" }] }
      },
      {
        # Our tasks (startedBy "<name>-<workload id>") stopped by a spot interruption; the completion
        # function ignores these (one owner).
        source        = ["aws.ecs"]
        "detail-type" = ["ECS Task State Change"]
        detail        = { startedBy = [{ prefix = "${var.name}-" }], stopCode = ["SpotInterruption", "TerminationNotice"] }
      },
    ]
  })

  interruption_rule_arns = { for r in local.interruption_regions : r => "arn:${local.partition}:events:${r}:${local.account_id}:rule/${var.name}-interruptions" }
  # Built, not read from the queue, so the function module can check it at plan time.
  interruption_queue_arn      = "arn:${local.partition}:sqs:${local.home_region}:${local.account_id}:${var.name}-interruptions"
  interruption_queue_rule_arn = "arn:${local.partition}:events:${local.home_region}:${local.account_id}:rule/${var.name}-interruptions/${var.name}-interruptions-queue"

  # What the function's self-check verifies (carbon_aware.runtime.interruptions.selfcheck).
  interruption_wiring = {
    queue_url      = aws_sqs_queue.interruptions.url
    queue_arn      = aws_sqs_queue.interruptions.arn
    bus            = aws_cloudwatch_event_bus.interruptions.name
    bus_arn        = aws_cloudwatch_event_bus.interruptions.arn
    bus_rule       = aws_cloudwatch_event_rule.interruption_queue.name
    bus_rule_arn   = aws_cloudwatch_event_rule.interruption_queue.arn
    regional_rules = { for r, rule in aws_cloudwatch_event_rule.interruptions : r => rule.name }
  }

  checkpoint_document = var.interruption_handling.checkpoint_ssm_document
  checkpoint_document_arns = local.checkpoint_document == null ? [] : startswith(local.checkpoint_document, "arn:") ? [local.checkpoint_document] : [
    for r in distinct(flatten([for f in values(var.fleets) : keys(f.regions)])) : "arn:${local.partition}:ssm:${r}:${local.account_id}:document/${local.checkpoint_document}"
  ]

  # carbon_aware.runtime.interruptions.settings
  interruption_environment = {
    CARBON_AWARE_IDEMPOTENCY_TABLE    = aws_dynamodb_table.this["idempotency"].name
    CARBON_AWARE_SCHEDULER_ROLE_ARN   = local.service_role_arns["schedules"]
    CARBON_AWARE_SCHEDULE_KMS_KEY_ARN = var.kms_key_arn
    CARBON_AWARE_EXECUTOR_ARN         = local.function_arns["executor"]
    CARBON_AWARE_REBALANCE_ACTION     = var.interruption_handling.rebalance_action
    CARBON_AWARE_UNAVAILABLE_SECONDS  = var.interruption_handling.unavailable_minutes * 60
    CARBON_AWARE_CHECKPOINT_DOCUMENT  = local.checkpoint_document
    CARBON_AWARE_MAX_REPLACEMENTS     = var.interruption_handling.max_replacements
    CARBON_AWARE_FLEET_OPTIMIZER_ARN  = local.create_fleets ? local.function_arns["fleet_optimizer"] : null
    CARBON_AWARE_INTERRUPTION_WIRING  = jsonencode(local.interruption_wiring)
  }

  interruption_statements = concat(
    [
      {
        # Re-placing an interrupted workload (runtime.interruptions.replace through the planner).
        Sid      = "Workloads"
        Effect   = "Allow"
        Action   = ["dynamodb:GetItem", "dynamodb:UpdateItem"]
        Resource = [aws_dynamodb_table.this["workloads"].arn]
      },
      {
        Sid      = "Schedules"
        Effect   = "Allow"
        Action   = ["scheduler:CreateSchedule"]
        Resource = local.schedule_resources
      },
      {
        Sid       = "PassSchedulerRole"
        Effect    = "Allow"
        Action    = ["iam:PassRole"]
        Resource  = [local.service_role_arns["schedules"]]
        Condition = { StringEquals = { "iam:PassedToService" = "scheduler.amazonaws.com" } }
      },
      {
        # Event ids handled (runtime.interruptions.ledger): conditional PutItem, DeleteItem on failure.
        Sid      = "HandledEvents"
        Effect   = "Allow"
        Action   = ["dynamodb:DeleteItem", "dynamodb:PutItem"]
        Resource = [aws_dynamodb_table.this["idempotency"].arn]
      },
      {
        # Instance type and zone marked unavailable, replacements held for instances at risk and
        # released when they stop (signals.prices.unavailable; reads are Queries: SignalsRead).
        Sid      = "CapacityMarks"
        Effect   = "Allow"
        Action   = ["dynamodb:DeleteItem", "dynamodb:PutItem"]
        Resource = [aws_dynamodb_table.this["signals"].arn]
      },
      {
        # DescribeInstances has no resource-level permissions: "*" only.
        Sid      = "InterruptedInstances"
        Effect   = "Allow"
        Action   = ["ec2:DescribeInstances"]
        Resource = ["*"]
      },
      {
        # The self-check (runtime.interruptions.selfcheck).
        Sid      = "WiringRules"
        Effect   = "Allow"
        Action   = ["events:ListTargetsByRule"]
        Resource = concat(values(local.interruption_rule_arns), [local.interruption_queue_rule_arn])
      },
      {
        Sid      = "WiringQueue"
        Effect   = "Allow"
        Action   = ["sqs:GetQueueAttributes"]
        Resource = [aws_sqs_queue.interruptions.arn]
      },
    ],
    !local.create_fleets ? [] : [
      {
        # Describe calls of Auto Scaling have no resource-level permissions: "*" only.
        Sid      = "FleetGroupsRead"
        Effect   = "Allow"
        Action   = ["autoscaling:DescribeAutoScalingGroups"]
        Resource = ["*"]
      },
      {
        Sid      = "FleetInstances"
        Effect   = "Allow"
        Action   = ["autoscaling:CompleteLifecycleAction", "autoscaling:RecordLifecycleActionHeartbeat", "autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"]
        Resource = local.fleet_group_arns
      },
      {
        Sid      = "RunFleetOptimizer"
        Effect   = "Allow"
        Action   = ["lambda:InvokeFunction"]
        Resource = [local.function_arns["fleet_optimizer"]]
      },
    ],
    local.checkpoint_document == null || !local.create_fleets ? [] : [
      {
        Sid      = "CheckpointCommand"
        Effect   = "Allow"
        Action   = ["ssm:SendCommand"]
        Resource = concat(local.checkpoint_document_arns, [for r in distinct(flatten([for f in values(var.fleets) : keys(f.regions)])) : "arn:${local.partition}:ec2:${r}:${local.account_id}:instance/*"])
      },
      {
        # GetCommandInvocation has no resource-level permissions: "*" only.
        Sid      = "CheckpointCommandStatus"
        Effect   = "Allow"
        Action   = ["ssm:GetCommandInvocation"]
        Resource = ["*"]
      },
    ],
  )
}

################################################################################
# Every Region: interruption events -> the interruptions bus in the home Region
################################################################################

resource "aws_cloudwatch_event_bus" "interruptions" {
  region             = local.home_region
  name               = "${var.name}-interruptions"
  kms_key_identifier = var.kms_key_arn

  tags = var.tags
}

resource "aws_cloudwatch_event_rule" "interruptions" {
  for_each = local.interruption_regions

  region        = each.key
  name          = "${var.name}-interruptions"
  description   = "Spot interruption warnings, rebalance recommendations, lifecycle actions and spot-stopped tasks, for ${local.function_names["interruptions"]}."
  event_pattern = local.interruption_event_pattern

  tags = var.tags
}

resource "aws_cloudwatch_event_target" "interruptions" {
  for_each = local.interruption_regions

  region    = each.key
  rule      = aws_cloudwatch_event_rule.interruptions[each.key].name
  target_id = "interruptions-bus"
  arn       = aws_cloudwatch_event_bus.interruptions.arn
  role_arn  = local.service_role_arns["event-forwarder"]
}

################################################################################
# Home Region: the interruptions bus -> the queue -> the function
################################################################################

resource "aws_cloudwatch_event_rule" "interruption_queue" {
  region         = local.home_region
  name           = "${var.name}-interruptions-queue"
  description    = "Interruption events from every Region, into the interruptions queue."
  event_bus_name = aws_cloudwatch_event_bus.interruptions.name
  event_pattern  = local.interruption_event_pattern

  tags = var.tags
}

resource "aws_cloudwatch_event_target" "interruption_queue" {
  region         = local.home_region
  rule           = aws_cloudwatch_event_rule.interruption_queue.name
  event_bus_name = aws_cloudwatch_event_bus.interruptions.name
  target_id      = "queue"
  arn            = aws_sqs_queue.interruptions.arn
}

resource "aws_sqs_queue" "interruptions" {
  region = local.home_region
  name   = "${var.name}-interruptions"
  # AWS's advice for Lambda event sources: at least six times the function's timeout.
  visibility_timeout_seconds        = 6 * local.function_timeouts["interruptions"]
  message_retention_seconds         = 345600
  sqs_managed_sse_enabled           = var.kms_key_arn == null ? true : null
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = var.kms_key_arn == null ? null : 3600
  redrive_policy                    = jsonencode({ deadLetterTargetArn = aws_sqs_queue.dlq["interruptions"].arn, maxReceiveCount = 5 })

  tags = var.tags
}

resource "aws_sqs_queue_policy" "interruptions" {
  region    = local.home_region
  queue_url = aws_sqs_queue.interruptions.url
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "InterruptionEvents"
      Effect    = "Allow"
      Principal = { Service = "events.amazonaws.com" }
      Action    = "sqs:SendMessage"
      Resource  = aws_sqs_queue.interruptions.arn
      Condition = { ArnEquals = { "aws:SourceArn" = aws_cloudwatch_event_rule.interruption_queue.arn } }
    }]
  })
}

resource "aws_lambda_event_source_mapping" "interruptions" {
  region                             = local.home_region
  function_name                      = module.function["interruptions"].function_arn
  event_source_arn                   = aws_sqs_queue.interruptions.arn
  batch_size                         = 10
  maximum_batching_window_in_seconds = 0
  function_response_types            = ["ReportBatchItemFailures"]
}

################################################################################
# Self-check on a schedule (and on the function's first batch)
################################################################################

resource "aws_cloudwatch_event_rule" "interruption_self_check" {
  region              = local.home_region
  name                = "${var.name}-interruptions-self-check"
  description         = "Invokes ${local.function_names["interruptions"]} to check the interruption pipeline's wiring."
  schedule_expression = var.interruption_handling.self_check_schedule

  tags = var.tags
}

resource "aws_cloudwatch_event_target" "interruption_self_check" {
  region = local.home_region
  rule   = aws_cloudwatch_event_rule.interruption_self_check.name
  arn    = module.function["interruptions"].function_arn
  input  = jsonencode({ action = "self_check" })
}

resource "aws_lambda_permission" "interruption_self_check" {
  region        = local.home_region
  statement_id  = "AllowEventBridge-interruptions-self-check"
  action        = "lambda:InvokeFunction"
  function_name = module.function["interruptions"].function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.interruption_self_check.arn
}

# At plan and apply: every Region's rule reaches the bus, the bus rule the queue, the queue policy
# admits that rule, and the function polls that queue.
check "interruption_pipeline" {
  assert {
    condition     = alltrue([for r in local.interruption_regions : aws_cloudwatch_event_target.interruptions[r].arn == aws_cloudwatch_event_bus.interruptions.arn && aws_cloudwatch_event_target.interruptions[r].rule == aws_cloudwatch_event_rule.interruptions[r].name]) && aws_cloudwatch_event_target.interruption_queue.arn == aws_sqs_queue.interruptions.arn && aws_lambda_event_source_mapping.interruptions.event_source_arn == aws_sqs_queue.interruptions.arn && strcontains(aws_sqs_queue_policy.interruptions.policy, aws_cloudwatch_event_rule.interruption_queue.arn)
    error_message = "The interruption pipeline is not wired: a Region's rule, the queue's rule, the queue policy or the function's event source mapping does not point where it should."
  }
}
