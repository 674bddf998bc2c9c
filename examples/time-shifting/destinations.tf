# Completions of the Lambda targets: each target's asynchronous invocation result goes to this
# Region's runner event bus, which forwards it to the control plane (the payload the executor
# sends carries workload_id, so the record identifies the workload). Without this the workloads
# would only end when the run timeout passes (TIMED_OUT).

resource "aws_lambda_function_event_invoke_config" "target" {
  for_each = toset(var.target_lambda_arns)

  region        = var.region
  function_name = each.key

  destination_config {
    on_success {
      destination = module.carbon_aware.runner_event_bus_arns[var.region]
    }

    on_failure {
      destination = module.carbon_aware.runner_event_bus_arns[var.region]
    }
  }
}

# The targets' execution roles send the results to the bus.
resource "aws_iam_role_policy" "target_destinations" {
  for_each = toset(var.target_role_names)

  name = "carbon-aware-ts-destinations"
  role = each.key
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = ["events:PutEvents"]
      Resource = [module.carbon_aware.runner_event_bus_arns[var.region]]
    }]
  })
}
