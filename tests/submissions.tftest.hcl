# Submissions from anywhere: the intake function on the control bus, its rejects queue, the
# completion rule that leaves submissions alone, and task-token state machines (IAM and the
# regional forwarding of their executions' ends).

mock_provider "aws" {}

variables {
  name        = "ca-test"
  regions     = ["eu-west-1", "us-west-2"]
  home_region = "eu-west-1"
  execution_targets = {
    task_token_state_machine_arns = ["arn:aws:states:us-west-2:111122223333:stateMachine:pipeline"]
  }
}

run "submissions" {
  command = apply

  assert {
    condition = (
      aws_cloudwatch_event_rule.intake.region == "eu-west-1" &&
      aws_cloudwatch_event_rule.intake.event_bus_name == aws_cloudwatch_event_bus.control.name &&
      jsondecode(aws_cloudwatch_event_rule.intake.event_pattern)["detail-type"] == ["Workload Submitted"]
    )
    error_message = "\"Workload Submitted\" events on the control bus have their own rule"
  }

  assert {
    condition = (
      aws_cloudwatch_event_target.intake.arn == module.function["intake"].function_arn &&
      aws_lambda_permission.intake.function_name == module.function["intake"].function_name &&
      aws_lambda_permission.intake.source_arn == aws_cloudwatch_event_rule.intake.arn
    )
    error_message = "the intake rule invokes the intake function, which lets it"
  }

  assert {
    condition     = jsondecode(aws_cloudwatch_event_rule.completion.event_pattern)["detail-type"] == [{ "anything-but" = ["Workload Submitted"] }]
    error_message = "submissions do not reach the completion function"
  }

  assert {
    condition = (
      aws_sqs_queue.rejected_submissions.region == "eu-west-1" && aws_sqs_queue.rejected_submissions.sqs_managed_sse_enabled &&
      local.functions["intake"].environment["CARBON_AWARE_REJECTS_QUEUE_URL"] == aws_sqs_queue.rejected_submissions.url &&
      output.rejected_submissions_queue_arn == aws_sqs_queue.rejected_submissions.arn
    )
    error_message = "rejects go to an encrypted queue in the home Region, named in the intake's environment and the outputs"
  }

  assert {
    condition = {
      for s in jsondecode(module.function["intake"].role_policy).Statement : s.Sid => s.Resource
      if s.Sid == "RejectedSubmissions"
    } == { RejectedSubmissions = [aws_sqs_queue.rejected_submissions.arn] }
    error_message = "the intake may send to the rejects queue only"
  }

  assert {
    condition = alltrue([for f in ["executor", "scheduler"] : {
      for s in jsondecode(module.function[f].role_policy).Statement : s.Sid => [s.Action, s.Resource]
      if s.Sid == "TaskTokenTargets"
      } == {
      TaskTokenTargets = [["states:SendTaskSuccess"], ["arn:aws:states:us-west-2:111122223333:stateMachine:pipeline"]]
    }])
    error_message = "whoever dispatches may send task success to the task-token state machines only"
  }

  assert {
    condition = contains(jsondecode(local.target_state_event_pattern)["$or"], {
      source        = ["aws.states"]
      "detail-type" = ["Step Functions Execution Status Change"]
      detail = {
        stateMachineArn = ["arn:aws:states:us-west-2:111122223333:stateMachine:pipeline"]
        status          = ["ABORTED", "FAILED", "SUCCEEDED", "TIMED_OUT"]
      }
    })
    error_message = "the regional rules forward the ends of the task-token state machines' executions"
  }
}

run "task_token_state_machine_outside_the_regions" {
  command = plan

  variables {
    execution_targets = {
      task_token_state_machine_arns = ["arn:aws:states:ap-south-1:111122223333:stateMachine:pipeline"]
    }
  }

  expect_failures = [aws_cloudwatch_event_rule.intake]
}
