mock_provider "aws" {
  override_resource {
    target = aws_sfn_state_machine.this
    values = { arn = "arn:aws:states:eu-west-1:111122223333:stateMachine:carbon-aware-green-pipeline" }
  }
}

variables {
  work_function_arn = "arn:aws:lambda:eu-west-1:111122223333:function:train"
}

run "waits_for_the_green_window" {
  command = apply

  assert {
    condition     = jsondecode(aws_sfn_state_machine.this.definition).States.WaitForGreenWindow.Resource == "arn:aws:states:::events:putEvents.waitForTaskToken"
    error_message = "the first step waits for a task token"
  }

  assert {
    condition = {
      for k, v in one(jsondecode(aws_sfn_state_machine.this.definition).States.WaitForGreenWindow.Arguments.Entries) : k => v if k != "Detail"
      } == {
      EventBusName = module.carbon_aware.control_event_bus_arn
      Source       = "carbon-aware.pipelines"
      DetailType   = "Workload Submitted"
    }
    error_message = "it submits to the module's control bus as a \"Workload Submitted\" event"
  }

  assert {
    condition = one(jsondecode(aws_sfn_state_machine.this.definition).States.WaitForGreenWindow.Arguments.Entries).Detail.target == {
      type       = "task_token"
      arn        = "{% $states.context.StateMachine.Id %}"
      task_token = "{% $states.context.Task.Token %}"
      execution  = "{% $states.context.Execution.Id %}"
    }
    error_message = "the submission's target carries the state machine, its task token and its execution"
  }

  assert {
    condition     = jsondecode(aws_sfn_state_machine.this.definition).States.WaitForGreenWindow.Next == "Work" && jsondecode(aws_sfn_state_machine.this.definition).States.Work.Arguments.Payload.region == "{% $green.region %}"
    error_message = "the work step follows and runs in the chosen Region"
  }

  assert {
    condition = {
      for s in jsondecode(aws_iam_role_policy.this.policy).Statement : s.Sid => [s.Action, s.Resource]
      } == {
      SubmitToControlBus = [["events:PutEvents"], [module.carbon_aware.control_event_bus_arn]]
      Work               = [["lambda:InvokeFunction"], [var.work_function_arn]]
    }
    error_message = "the pipeline may put events on the control bus and invoke the work, nothing else"
  }
}

run "rejects_a_window_shorter_than_the_work" {
  command = plan

  variables {
    window_hours     = 1
    duration_minutes = 90
  }

  expect_failures = [var.duration_minutes]
}
