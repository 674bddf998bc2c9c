locals {
  # What every function needs besides its own statements: its log stream, and, when configured,
  # X-Ray segments, its VPC interfaces, its KMS key and its dead-letter queue.
  base_statements = concat(
    [
      {
        Sid      = "Logs"
        Effect   = "Allow"
        Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
        Resource = ["${try(aws_cloudwatch_log_group.this[0].arn, "")}:*"]
      },
    ],
    !var.tracing_enabled ? [] : [{
      # X-Ray trace submission has no resource-level permissions.
      Sid      = "Tracing"
      Effect   = "Allow"
      Action   = ["xray:PutTelemetryRecords", "xray:PutTraceSegments"]
      Resource = ["*"]
    }],
    var.vpc_config == null ? [] : [{
      # Lambda manages the function's network interfaces; these actions have no resource scoping.
      Sid    = "VpcNetworkInterfaces"
      Effect = "Allow"
      Action = [
        "ec2:AssignPrivateIpAddresses",
        "ec2:CreateNetworkInterface",
        "ec2:DeleteNetworkInterface",
        "ec2:DescribeNetworkInterfaces",
        "ec2:UnassignPrivateIpAddresses",
      ]
      Resource = ["*"]
    }],
    var.kms_key_arn == null ? [] : [{
      Sid      = "Kms"
      Effect   = "Allow"
      Action   = ["kms:Decrypt", "kms:GenerateDataKey"]
      Resource = [var.kms_key_arn]
    }],
    length(var.event_source_stream_arns) == 0 ? [] : [{
      # Lambda reads the streams of the function's event source mappings with the function's role.
      Sid      = "EventSourceStreams"
      Effect   = "Allow"
      Action   = ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"]
      Resource = var.event_source_stream_arns
    }],
    length(var.event_source_queue_arns) == 0 ? [] : [{
      # Lambda polls the queues of the function's event source mappings with the function's role.
      Sid      = "EventSourceQueues"
      Effect   = "Allow"
      Action   = ["sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"]
      Resource = var.event_source_queue_arns
    }],
    !var.attach_dead_letter_queue ? [] : [{
      Sid      = "DeadLetterQueue"
      Effect   = "Allow"
      Action   = ["sqs:SendMessage"]
      Resource = [var.dead_letter_target_arn]
    }],
  )

  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = concat(local.base_statements, var.policy_statements)
  })

  create_role = var.create && var.create_role
  role_arn    = local.create_role ? try(aws_iam_role.this[0].arn, null) : var.role_arn

  # Alarms on anything above zero over five minutes: errors, and failed events waiting in the
  # dead-letter queue.
  alarms = merge(
    !var.create_alarms ? {} : {
      errors = {
        description = "${var.function_name} reported errors."
        namespace   = "AWS/Lambda"
        metric_name = "Errors"
        dimensions  = { FunctionName = var.function_name }
        statistic   = "Sum"
      }
    },
    !(var.create_alarms && var.attach_dead_letter_queue) ? {} : {
      dead-letters = {
        description = "Failed ${var.function_name} events wait in ${var.dead_letter_queue_name}."
        namespace   = "AWS/SQS"
        metric_name = "ApproximateNumberOfMessagesVisible"
        dimensions  = { QueueName = var.dead_letter_queue_name }
        statistic   = "Maximum"
      }
    },
  )
}

resource "aws_cloudwatch_log_group" "this" {
  count = var.create ? 1 : 0

  #checkov:skip=CKV_AWS_158:Encrypted with the CloudWatch Logs service key by default; var.kms_key_arn switches to a customer managed key.
  #checkov:skip=CKV_AWS_338:Retention is var.log_retention_in_days (default 30 days, to bound cost); raise it where policy requires a year.
  region            = var.region
  name              = "/aws/lambda/${var.function_name}"
  retention_in_days = var.log_retention_in_days
  kms_key_id        = var.kms_key_arn

  tags = var.tags
}

resource "aws_iam_role" "this" {
  count = local.create_role ? 1 : 0

  name                 = var.function_name
  path                 = var.role_path
  permissions_boundary = var.role_permissions_boundary
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Action    = "sts:AssumeRole"
      Principal = { Service = "lambda.amazonaws.com" }
    }]
  })

  tags = var.tags
}

resource "aws_iam_role_policy" "this" {
  count = local.create_role ? 1 : 0

  name   = var.function_name
  role   = aws_iam_role.this[0].id
  policy = local.policy
}

resource "aws_lambda_function" "this" {
  count = var.create ? 1 : 0

  #checkov:skip=CKV_AWS_272:Code signing is var.code_signing_config_arn: it needs a Signer profile per estate, so it cannot be on by default; the bundle is built reproducibly and its sha256 is published beside it.
  #checkov:skip=CKV_AWS_50:Active tracing is var.tracing_enabled (off by default: X-Ray is billed per trace); turning it on enables active tracing, the X-Ray grant and the Powertools tracer together.
  #checkov:skip=CKV_AWS_117:VPC attachment is an option (var.vpc_config); the functions call public carbon-data APIs and AWS endpoints only.
  #checkov:skip=CKV_AWS_173:Environment variables hold names and ARNs only, never secrets; they use the Lambda service key unless var.kms_key_arn is set.
  #checkov:skip=CKV_AWS_116:Only asynchronously invoked functions get a dead-letter queue (attach_dead_letter_queue); the API function is invoked synchronously.
  #checkov:skip=CKV_AWS_115:Reserved concurrency is an option per function (function_settings); reserving by default would take from the account's shared pool.
  region        = var.region
  function_name = var.function_name
  description   = var.description
  role          = local.role_arn
  handler       = var.handler
  runtime       = var.runtime
  architectures = [var.architecture]

  filename          = var.filename
  source_code_hash  = var.source_code_hash
  s3_bucket         = var.s3_bucket
  s3_key            = var.s3_key
  s3_object_version = var.s3_object_version

  code_signing_config_arn = var.code_signing_config_arn

  memory_size                    = var.memory_size
  timeout                        = var.timeout
  reserved_concurrent_executions = var.reserved_concurrent_executions
  kms_key_arn                    = var.kms_key_arn

  environment {
    variables = var.environment_variables
  }

  dynamic "tracing_config" {
    for_each = var.tracing_enabled ? ["Active"] : []
    content {
      mode = tracing_config.value
    }
  }

  logging_config {
    log_format = "JSON"
    log_group  = aws_cloudwatch_log_group.this[0].name
  }

  dynamic "dead_letter_config" {
    for_each = var.attach_dead_letter_queue ? [var.dead_letter_target_arn] : []
    content {
      target_arn = dead_letter_config.value
    }
  }

  dynamic "vpc_config" {
    for_each = var.vpc_config == null ? [] : [var.vpc_config]
    content {
      subnet_ids         = vpc_config.value.subnet_ids
      security_group_ids = vpc_config.value.security_group_ids
    }
  }

  tags = var.tags

  lifecycle {
    precondition {
      condition     = (var.filename == null) != (var.s3_bucket == null)
      error_message = "Give the deployment package either as filename or as s3_bucket and s3_key, not both."
    }

    precondition {
      condition     = var.filename == null || try(fileexists(var.filename), false)
      error_message = "Lambda bundle ${coalesce(var.filename, "-")} does not exist: build it with `make build`, use a release archive (bundles prebuilt), or set lambda_package_s3."
    }

    precondition {
      condition     = local.role_arn != null
      error_message = "role_arn is required when create_role is false."
    }
  }

  depends_on = [aws_iam_role_policy.this]
}

resource "aws_lambda_function_event_invoke_config" "this" {
  count = var.create && var.attach_dead_letter_queue ? 1 : 0

  region                 = var.region
  function_name          = aws_lambda_function.this[0].function_name
  maximum_retry_attempts = var.maximum_retry_attempts
}

resource "aws_cloudwatch_metric_alarm" "this" {
  for_each = var.create ? local.alarms : {}

  region              = var.region
  alarm_name          = "${var.function_name}-${each.key}"
  alarm_description   = each.value.description
  namespace           = each.value.namespace
  metric_name         = each.value.metric_name
  dimensions          = each.value.dimensions
  statistic           = each.value.statistic
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions

  tags = var.tags
}
