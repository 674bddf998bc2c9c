output "dashboard_name" {
  description = "Name of the CloudWatch dashboard."
  value       = try(aws_cloudwatch_dashboard.this[0].dashboard_name, null)
}

output "dashboard_arn" {
  description = "ARN of the CloudWatch dashboard."
  value       = try(aws_cloudwatch_dashboard.this[0].dashboard_arn, null)
}

output "dashboard_url" {
  description = "Console URL of the CloudWatch dashboard."
  value       = var.create ? "${local.console_url}/cloudwatch/home?region=${var.region}#dashboards:name=${var.dashboard_name}" : null
}
