################################################################################
# Roles AWS services assume for the module: EventBridge Scheduler invokes the executor;
# EventBridge forwards target state changes from every Region to the control event bus.
# A role passed in var.service_role_arns replaces the one created here; nothing is attached to it.
################################################################################

locals {
  service_roles = {
    schedules = {
      service = "scheduler.amazonaws.com"
      condition = {
        StringEquals = { "aws:SourceAccount" = local.account_id }
        ArnEquals    = { "aws:SourceArn" = aws_scheduler_schedule_group.this.arn }
      }
    }
    event-forwarder = {
      service   = "events.amazonaws.com"
      condition = { StringEquals = { "aws:SourceAccount" = local.account_id } }
    }
  }

  service_role_statements = {
    schedules = concat([{
      Sid      = "InvokeExecutor"
      Effect   = "Allow"
      Action   = ["lambda:InvokeFunction"]
      Resource = [module.function["executor"].function_arn]
      }], var.kms_key_arn == null ? [] : [{
      # Schedules created with the customer managed key (CARBON_AWARE_SCHEDULE_KMS_KEY_ARN).
      Sid      = "DecryptSchedules"
      Effect   = "Allow"
      Action   = ["kms:Decrypt"]
      Resource = [var.kms_key_arn]
    }])
    event-forwarder = [{
      # Target state changes to the control bus, interruption events to the interruptions bus.
      Sid      = "PutOnControlBus"
      Effect   = "Allow"
      Action   = ["events:PutEvents"]
      Resource = [aws_cloudwatch_event_bus.control.arn, aws_cloudwatch_event_bus.interruptions.arn]
    }]
  }

  created_service_roles = { for k, r in local.service_roles : k => r if !contains(keys(var.service_role_arns), k) }
  service_role_arns     = merge({ for k, r in aws_iam_role.service : k => r.arn }, var.service_role_arns)
}

resource "aws_iam_role" "service" {
  for_each = local.created_service_roles

  name                 = "${var.name}-${each.key}"
  path                 = var.role_path
  permissions_boundary = var.role_permissions_boundary
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Action    = "sts:AssumeRole"
      Principal = { Service = each.value.service }
      Condition = each.value.condition
    }]
  })

  tags = var.tags
}

resource "aws_iam_role_policy" "service" {
  for_each = { for k, v in local.service_role_statements : k => v if contains(keys(local.created_service_roles), k) }

  name   = "${var.name}-${each.key}"
  role   = aws_iam_role.service[each.key].id
  policy = jsonencode({ Version = "2012-10-17", Statement = each.value })
}
