# Wait for the green window inside a pipeline: a Step Functions step submits a "Workload
# Submitted" event with its task token to the control bus and waits; at the start the module
# chooses, the executor sends the decision back (SendTaskSuccess) and the next step does the work
# in the chosen Region. The execution's own status change records the run's grams.

provider "aws" {
  region = var.region
}

locals {
  name = "carbon-aware-green"
  # The waiting step's submission; JSONata fills in the deadline and the task-token target.
  submission = {
    duration_minutes = var.duration_minutes
    deadline         = "{% $fromMillis($toMillis($states.context.Execution.StartTime) + ${var.window_hours} * 3600000) %}"
    home_region      = var.region
    regions          = var.regions
    vcpus            = var.vcpus
    memory_gb        = var.memory_gb
    strategy         = "combined"
    target = {
      type       = "task_token"
      arn        = "{% $states.context.StateMachine.Id %}"
      task_token = "{% $states.context.Task.Token %}"
      execution  = "{% $states.context.Execution.Id %}"
    }
  }
}

module "carbon_aware" {
  source = "../../"

  name        = local.name
  regions     = var.regions
  home_region = var.region

  execution_targets = {
    task_token_state_machine_arns = [aws_sfn_state_machine.this.arn]
  }

  tags = var.tags
}

resource "aws_sfn_state_machine" "this" {
  #checkov:skip=CKV_AWS_284:Example kept to the wiring; enable tracing_configuration (and grant X-Ray) in a real pipeline.
  #checkov:skip=CKV_AWS_285:Example kept to the wiring; add logging_configuration with your log group in a real pipeline.
  name     = "${local.name}-pipeline"
  role_arn = aws_iam_role.this.arn

  definition = jsonencode({
    Comment       = "Waits for the green window chosen by carbon-aware, then does the work there."
    QueryLanguage = "JSONata"
    StartAt       = "WaitForGreenWindow"
    States = {
      WaitForGreenWindow = {
        Type     = "Task"
        Resource = "arn:aws:states:::events:putEvents.waitForTaskToken"
        Arguments = {
          Entries = [{
            EventBusName = module.carbon_aware.control_event_bus_arn
            Source       = "carbon-aware.pipelines"
            DetailType   = "Workload Submitted"
            Detail       = local.submission
          }]
        }
        # The decision arrives before the deadline, or the submission failed (see its queue).
        TimeoutSeconds = var.window_hours * 3600
        Assign         = { green = "{% $states.result %}" }
        Next           = "Work"
      }
      Work = {
        Type     = "Task"
        Resource = "arn:aws:states:::lambda:invoke"
        Arguments = {
          FunctionName = var.work_function_arn
          Payload = {
            region      = "{% $green.region %}"
            workload_id = "{% $green.workload_id %}"
            input       = "{% $states.input %}"
          }
        }
        End = true
      }
    }
  })

  tags = var.tags
}

resource "aws_iam_role" "this" {
  name = "${local.name}-pipeline"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Action    = "sts:AssumeRole"
      Principal = { Service = "states.amazonaws.com" }
    }]
  })

  tags = var.tags
}

resource "aws_iam_role_policy" "this" {
  name = "pipeline"
  role = aws_iam_role.this.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "SubmitToControlBus"
        Effect   = "Allow"
        Action   = ["events:PutEvents"]
        Resource = [module.carbon_aware.control_event_bus_arn]
      },
      {
        Sid      = "Work"
        Effect   = "Allow"
        Action   = ["lambda:InvokeFunction"]
        Resource = [var.work_function_arn]
      },
    ]
  })
}
