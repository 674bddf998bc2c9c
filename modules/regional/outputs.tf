output "region" {
  description = "AWS Region of this stack."
  value       = var.region
}

output "runner_event_bus_arn" {
  description = "ARN of the event bus custom runners in this Region subscribe to."
  value       = try(aws_cloudwatch_event_bus.runner[0].arn, null)
}

output "target_state_rule_arn" {
  description = "ARN of the rule that forwards target state changes to the control plane."
  value       = try(aws_cloudwatch_event_rule.target_state[0].arn, null)
}
