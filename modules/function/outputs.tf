output "function_name" {
  description = "Name of the Lambda function."
  value       = try(aws_lambda_function.this[0].function_name, null)
}

output "function_arn" {
  description = "ARN of the Lambda function."
  value       = try(aws_lambda_function.this[0].arn, null)
}

output "invoke_arn" {
  description = "Invoke ARN of the Lambda function, for API Gateway integrations."
  value       = try(aws_lambda_function.this[0].invoke_arn, null)
}

output "architectures" {
  description = "Instruction set architectures of the function."
  value       = try(aws_lambda_function.this[0].architectures, null)
}

output "role_arn" {
  description = "ARN of the function's IAM role (created, or the one passed as role_arn)."
  value       = var.create ? local.role_arn : null
}

output "role_policy" {
  description = "JSON of the role's inline policy (everything the function may do); null when the role is not created here."
  value       = try(aws_iam_role_policy.this[0].policy, null)
}

output "policy_json" {
  description = "JSON of everything the function needs, attached to the created role; grant it to a role passed as role_arn."
  value       = local.policy
}

output "log_group_arn" {
  description = "ARN of the function's log group."
  value       = try(aws_cloudwatch_log_group.this[0].arn, null)
}

output "alarm_arns" {
  description = "ARNs of the function's alarms, keyed by alarm (errors, dead-letters)."
  value       = { for k, a in aws_cloudwatch_metric_alarm.this : k => a.arn }
}

output "log_group_name" {
  description = "Name of the function's log group."
  value       = try(aws_cloudwatch_log_group.this[0].name, null)
}

output "log_group_retention_in_days" {
  description = "Retention of the function's log group."
  value       = try(aws_cloudwatch_log_group.this[0].retention_in_days, null)
}
