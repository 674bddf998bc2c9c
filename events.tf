################################################################################
# Events: periodic invocations, the executor's schedule group, the control event bus and the
# regional stacks that forward target state changes to it
################################################################################

locals {
  # Periodic invocations from the home Region's default event bus.
  periodic = {
    monitor = { function = "monitor", minutes = var.refresh_interval_minutes, input = null }
    sweeper = { function = "scheduler", minutes = var.sweeper_interval_minutes, input = jsonencode({ action = "sweep" }) }
  }

  # carbon_aware.runtime.handlers.intake.DETAIL_TYPE
  submitted_detail_type = "Workload Submitted"

  # Target state changes the regional stacks forward to the control plane (from the default bus
  # and the runner bus of each Region). The executor names what it starts with the `name` prefix
  # (carbon_aware.runtime.targets.RunNames).
  target_state_event_pattern = jsonencode({
    "$or" = concat([
      {
        source        = ["aws.ecs"]
        "detail-type" = ["ECS Task State Change"]
        detail        = { startedBy = [{ prefix = var.name }], lastStatus = ["STOPPED"] }
      },
      {
        source        = ["aws.batch"]
        "detail-type" = ["Batch Job State Change"]
        detail        = { jobName = [{ prefix = var.name }], status = ["FAILED", "SUCCEEDED"] }
      },
      {
        source        = ["aws.states"]
        "detail-type" = ["Step Functions Execution Status Change"]
        detail        = { name = [{ prefix = var.name }], status = ["ABORTED", "FAILED", "SUCCEEDED", "TIMED_OUT"] }
      },
      {
        # A Lambda target's on-success/on-failure destination on an event bus; the executor puts
        # workload_id into the payload, which the record carries as requestPayload.
        source        = ["lambda"]
        "detail-type" = ["Lambda Function Invocation Result - Success", "Lambda Function Invocation Result - Failure"]
        detail        = { requestPayload = { workload_id = [{ exists = true }] } }
      }],
      # Executions that waited on a task_token target are named by their owner, not by us.
      length(local.targets.task_token_state_machine_arns) == 0 ? [] : [{
        source        = ["aws.states"]
        "detail-type" = ["Step Functions Execution Status Change"]
        detail        = { stateMachineArn = local.targets.task_token_state_machine_arns, status = ["ABORTED", "FAILED", "SUCCEEDED", "TIMED_OUT"] }
      }],
    )
  })
}

################################################################################
# Periodic invocations: carbon data refresh (monitor) and sweeper (scheduler)
################################################################################

resource "aws_cloudwatch_event_rule" "periodic" {
  for_each = local.periodic

  region              = local.home_region
  name                = "${var.name}-${each.key}"
  description         = "Invokes ${local.function_names[each.value.function]} every ${each.value.minutes} minute(s)."
  schedule_expression = "rate(${each.value.minutes} ${each.value.minutes == 1 ? "minute" : "minutes"})"

  tags = var.tags

  lifecycle {
    precondition {
      condition     = var.forecast_refresh_minutes == null || try(var.forecast_refresh_minutes >= var.refresh_interval_minutes, false)
      error_message = "forecast_refresh_minutes must not be shorter than refresh_interval_minutes."
    }

    precondition {
      # A dispatch still in progress must not look abandoned to the sweeper.
      condition     = var.dispatch_timeout_seconds > max(local.function_timeouts["executor"], local.function_timeouts["scheduler"])
      error_message = "dispatch_timeout_seconds must be longer than the executor's and the scheduler's timeouts."
    }

    precondition {
      # The watchdog looks at an overdue run after the grace and times it out after the run timeout.
      condition     = var.run_timeout_minutes >= var.running_grace_minutes
      error_message = "run_timeout_minutes must not be shorter than running_grace_minutes."
    }
  }
}

resource "aws_cloudwatch_event_target" "periodic" {
  for_each = local.periodic

  region = local.home_region
  rule   = aws_cloudwatch_event_rule.periodic[each.key].name
  arn    = module.function[each.value.function].function_arn
  input  = each.value.input
}

resource "aws_lambda_permission" "periodic" {
  for_each = local.periodic

  region        = local.home_region
  statement_id  = "AllowEventBridge-${each.key}"
  action        = "lambda:InvokeFunction"
  function_name = module.function[each.value.function].function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.periodic[each.key].arn
}

################################################################################
# EventBridge Scheduler: one-time schedules that invoke the executor
################################################################################

resource "aws_scheduler_schedule_group" "this" {
  region = local.home_region
  name   = var.name

  tags = var.tags
}

################################################################################
# Control event bus: target state changes from every Region reach the completion function
################################################################################

resource "aws_cloudwatch_event_bus" "control" {
  region             = local.home_region
  name               = "${var.name}-control"
  kms_key_identifier = var.kms_key_arn

  tags = var.tags
}

resource "aws_cloudwatch_event_rule" "completion" {
  region         = local.home_region
  name           = "${var.name}-completion"
  description    = "Target state changes of carbon-aware workloads, from every Region."
  event_bus_name = aws_cloudwatch_event_bus.control.name
  # Everything but submissions, which go to the intake function.
  event_pattern = jsonencode({ account = [local.account_id], "detail-type" = [{ "anything-but" = [local.submitted_detail_type] }] })

  tags = var.tags
}

resource "aws_cloudwatch_event_target" "completion" {
  region         = local.home_region
  rule           = aws_cloudwatch_event_rule.completion.name
  event_bus_name = aws_cloudwatch_event_bus.control.name
  arn            = module.function["completion"].function_arn
}

resource "aws_lambda_permission" "completion" {
  region        = local.home_region
  statement_id  = "AllowControlBus"
  action        = "lambda:InvokeFunction"
  function_name = module.function["completion"].function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.completion.arn
}

################################################################################
# Submissions from anywhere: "Workload Submitted" events on the control bus reach the intake function
################################################################################

resource "aws_cloudwatch_event_rule" "intake" {
  region         = local.home_region
  name           = "${var.name}-intake"
  description    = "Workload submissions (any source) for the intake function."
  event_bus_name = aws_cloudwatch_event_bus.control.name
  event_pattern  = jsonencode({ account = [local.account_id], "detail-type" = [local.submitted_detail_type] })

  tags = var.tags

  lifecycle {
    precondition {
      # Only the regional stacks forward an execution's end to the control plane.
      condition     = alltrue([for a in local.targets.task_token_state_machine_arns : contains(var.regions, split(":", a)[3])])
      error_message = "execution_targets.task_token_state_machine_arns must be state machines in one of the regions."
    }
  }
}

resource "aws_cloudwatch_event_target" "intake" {
  region         = local.home_region
  rule           = aws_cloudwatch_event_rule.intake.name
  event_bus_name = aws_cloudwatch_event_bus.control.name
  arn            = module.function["intake"].function_arn
}

resource "aws_lambda_permission" "intake" {
  region        = local.home_region
  statement_id  = "AllowControlBusSubmissions"
  action        = "lambda:InvokeFunction"
  function_name = module.function["intake"].function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.intake.arn
}

module "regional" {
  source   = "./modules/regional"
  for_each = toset(var.regions)

  region                     = each.key
  name                       = var.name
  control_event_bus_arn      = aws_cloudwatch_event_bus.control.arn
  event_forwarder_role_arn   = local.service_role_arns["event-forwarder"]
  target_state_event_pattern = local.target_state_event_pattern
  create_runner_event_bus    = var.create_runner_event_buses
  kms_key_arn                = lookup(var.regional_kms_key_arns, each.key, each.key == local.home_region ? var.kms_key_arn : null)

  tags = var.tags
}
