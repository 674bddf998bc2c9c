# The interruption pipeline (offline: mock_provider "aws"): a rule per Region with the right
# pattern, each targeting the interruptions bus with the forwarder role; the bus rule targeting the
# queue; the queue policy admitting only that rule; the DLQ; the SQS event source with partial
# batch failures; the function's least-privilege policy; the rebalance action validated.

mock_provider "aws" {
  mock_data "aws_partition" {
    defaults = { partition = "aws", dns_suffix = "amazonaws.com" }
  }
  mock_data "aws_caller_identity" {
    defaults = { account_id = "111122223333" }
  }
  mock_data "aws_ssm_parameter" {
    defaults = { insecure_value = "ami-0123456789abcdef0" }
  }
}

variables {
  name    = "ca-int"
  regions = ["eu-west-1", "eu-north-1", "us-east-1"]
}

run "rules_per_region_to_the_queue" {
  command = apply

  assert {
    condition = (
      toset(keys(aws_cloudwatch_event_rule.interruptions)) == toset(["eu-west-1", "eu-north-1", "us-east-1"]) &&
      alltrue([for r, rule in aws_cloudwatch_event_rule.interruptions : rule.region == r]) &&
      alltrue([for r, t in aws_cloudwatch_event_target.interruptions : t.region == r && t.rule == aws_cloudwatch_event_rule.interruptions[r].name && t.arn == aws_cloudwatch_event_bus.interruptions.arn && t.role_arn == aws_iam_role.service["event-forwarder"].arn])
    )
    error_message = "every Region forwards interruption events to the interruptions bus with the forwarder role"
  }

  assert {
    condition = (
      aws_cloudwatch_event_bus.interruptions.region == "eu-west-1" &&
      aws_cloudwatch_event_target.interruption_queue.arn == aws_sqs_queue.interruptions.arn &&
      aws_cloudwatch_event_target.interruption_queue.event_bus_name == aws_cloudwatch_event_bus.interruptions.name &&
      jsondecode(aws_sqs_queue.interruptions.redrive_policy).deadLetterTargetArn == aws_sqs_queue.dlq["interruptions"].arn &&
      aws_lambda_event_source_mapping.interruptions.event_source_arn == aws_sqs_queue.interruptions.arn &&
      aws_lambda_event_source_mapping.interruptions.function_response_types == toset(["ReportBatchItemFailures"]) &&
      aws_lambda_event_source_mapping.interruptions.function_name == module.function["interruptions"].function_arn
    )
    error_message = "the bus rule feeds the queue (with its DLQ), which the function polls reporting partial batch failures"
  }

  assert {
    condition = jsondecode(aws_sqs_queue_policy.interruptions.policy).Statement == [{
      Sid       = "InterruptionEvents"
      Effect    = "Allow"
      Principal = { Service = "events.amazonaws.com" }
      Action    = "sqs:SendMessage"
      Resource  = aws_sqs_queue.interruptions.arn
      Condition = { ArnEquals = { "aws:SourceArn" = aws_cloudwatch_event_rule.interruption_queue.arn } }
    }]
    error_message = "only the bus rule may send to the queue"
  }

  assert {
    condition = {
      for p in jsondecode(aws_cloudwatch_event_rule.interruptions["us-east-1"].event_pattern)["$or"] : join(",", p["detail-type"]) => try(p.detail, null)
      } == {
      "EC2 Spot Instance Interruption Warning,EC2 Instance Rebalance Recommendation" = null
      "EC2 Instance State-change Notification"                                       = { state = ["stopping", "stopped", "shutting-down", "terminated"] }
      "AWS Health Event"                                                             = { service = ["EC2"], eventTypeCategory = ["scheduledChange"] }
      "EC2 Instance-terminate Lifecycle Action"                                      = { AutoScalingGroupName = [{ prefix = "ca-int-" }] }
      "ECS Task State Change"                                                        = { startedBy = [{ prefix = "ca-int-" }], stopCode = ["SpotInterruption", "TerminationNotice"] }
    }
    error_message = "the rules match the six interruption event kinds, our groups and tasks only"
  }

  assert {
    condition     = aws_cloudwatch_event_rule.interruption_queue.event_pattern == aws_cloudwatch_event_rule.interruptions["eu-west-1"].event_pattern
    error_message = "the bus rule passes what the Regions forward"
  }

  assert {
    condition     = contains(flatten([for s in jsondecode(aws_iam_role_policy.service["event-forwarder"].policy).Statement : s.Resource]), aws_cloudwatch_event_bus.interruptions.arn)
    error_message = "the forwarder role may put events on the interruptions bus"
  }

  assert {
    condition = jsonencode({
      for s in jsondecode(module.function["interruptions"].role_policy).Statement : s.Sid => sort(s.Action)
      if !contains(["Logs", "DeadLetterQueue", "Kms", "Tracing"], s.Sid)
      }) == jsonencode({
      Workloads            = ["dynamodb:GetItem", "dynamodb:UpdateItem"]
      Schedules            = ["scheduler:CreateSchedule"]
      PassSchedulerRole    = ["iam:PassRole"]
      HandledEvents        = ["dynamodb:DeleteItem", "dynamodb:PutItem"]
      CapacityMarks        = ["dynamodb:DeleteItem", "dynamodb:PutItem"]
      InterruptedInstances = ["ec2:DescribeInstances"]
      WiringRules          = ["events:ListTargetsByRule"]
      WiringQueue          = ["sqs:GetQueueAttributes"]
      SignalsRead          = ["dynamodb:Query"]
      EventSourceQueues    = ["sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"]
    })
    error_message = "without fleets the function gets no Auto Scaling, SSM or optimizer grants"
  }

  assert {
    condition     = aws_cloudwatch_event_target.interruption_self_check.input == jsonencode({ action = "self_check" }) && aws_cloudwatch_event_rule.interruption_self_check.schedule_expression == "rate(1 day)"
    error_message = "the self-check runs daily"
  }
}

run "rebalance_action_is_validated" {
  command = plan

  variables {
    interruption_handling = { rebalance_action = "drain" }
  }

  expect_failures = [var.interruption_handling]
}
