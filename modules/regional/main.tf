# One Region's execution side. The control plane starts work here through the executor; this stack
# carries the outcome back: target state changes (ECS tasks, Batch jobs, Step Functions executions,
# Lambda destination results) go from this Region's default bus, and from its runner bus, to the
# control event bus in the home Region.
# Per-Region capacity (Spot Auto Scaling groups) belongs here too.

resource "aws_cloudwatch_event_rule" "target_state" {
  count = var.create ? 1 : 0

  region        = var.region
  name          = "${var.name}-target-state"
  description   = "Forwards state changes of carbon-aware workloads to the control plane."
  event_pattern = var.target_state_event_pattern

  tags = var.tags
}

resource "aws_cloudwatch_event_target" "target_state" {
  count = var.create ? 1 : 0

  region    = var.region
  rule      = aws_cloudwatch_event_rule.target_state[0].name
  target_id = "control-plane"
  arn       = var.control_event_bus_arn
  role_arn  = var.event_forwarder_role_arn
}

resource "aws_cloudwatch_event_bus" "runner" {
  count = var.create && var.create_runner_event_bus ? 1 : 0

  region             = var.region
  name               = "${var.name}-runners"
  kms_key_identifier = var.kms_key_arn

  tags = var.tags
}

# Lambda targets may point their on-success/on-failure destinations at the runner bus.
resource "aws_cloudwatch_event_rule" "runner_target_state" {
  count = var.create && var.create_runner_event_bus ? 1 : 0

  region         = var.region
  name           = "${var.name}-runner-target-state"
  description    = "Forwards outcomes of carbon-aware workloads sent to the runner bus to the control plane."
  event_bus_name = aws_cloudwatch_event_bus.runner[0].name
  event_pattern  = var.target_state_event_pattern

  tags = var.tags
}

resource "aws_cloudwatch_event_target" "runner_target_state" {
  count = var.create && var.create_runner_event_bus ? 1 : 0

  region         = var.region
  rule           = aws_cloudwatch_event_rule.runner_target_state[0].name
  event_bus_name = aws_cloudwatch_event_bus.runner[0].name
  target_id      = "control-plane"
  arn            = var.control_event_bus_arn
  role_arn       = var.event_forwarder_role_arn
}
