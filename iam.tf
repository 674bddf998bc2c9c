################################################################################
# Roles AWS services assume for the module: EventBridge Scheduler invokes the executor;
# EventBridge forwards target state changes from every Region to the control event bus.
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
    schedules = [{
      Sid      = "InvokeExecutor"
      Effect   = "Allow"
      Action   = ["lambda:InvokeFunction"]
      Resource = [module.function["executor"].function_arn]
    }]
    event-forwarder = [{
      Sid      = "PutOnControlBus"
      Effect   = "Allow"
      Action   = ["events:PutEvents"]
      Resource = [aws_cloudwatch_event_bus.control.arn]
    }]
  }
}

resource "aws_iam_role" "service" {
  for_each = local.service_roles

  name = "${var.name}-${each.key}"
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
  for_each = local.service_role_statements

  name   = "${var.name}-${each.key}"
  role   = aws_iam_role.service[each.key].id
  policy = jsonencode({ Version = "2012-10-17", Statement = each.value })
}
