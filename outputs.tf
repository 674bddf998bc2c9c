output "home_region" {
  description = "Region of the control plane."
  value       = local.home_region
}

output "regions" {
  description = "Regions with a regional stack."
  value       = keys(module.regional)
}

output "table_names" {
  description = "DynamoDB table names, keyed by role (signals, workloads, idempotency, and fleets with Spot fleets)."
  value       = { for k, t in aws_dynamodb_table.this : k => t.name }
}

output "table_arns" {
  description = "DynamoDB table ARNs, keyed by role (signals, workloads, idempotency, and fleets with Spot fleets)."
  value       = { for k, t in aws_dynamodb_table.this : k => t.arn }
}

output "function_names" {
  description = "Lambda function names, keyed by role (api, intake, monitor, scheduler, executor, completion, interruptions, fleet_optimizer with Spot fleets and migrations with migrations enabled)."
  value       = { for k, m in module.function : k => m.function_name }
}

output "function_arns" {
  description = "Lambda function ARNs, keyed by role (api, intake, monitor, scheduler, executor, completion, interruptions, fleet_optimizer with Spot fleets and migrations with migrations enabled)."
  value       = { for k, m in module.function : k => m.function_arn }
}

output "function_role_arns" {
  description = "IAM role ARNs of the functions (created, or passed in function_role_arns), keyed by function."
  value       = { for k, m in module.function : k => m.role_arn }
}

output "api_endpoint" {
  description = "Base URL of the submit API (SigV4-signed requests, service `execute-api` for the HTTP API or `lambda` for the function URL); null when api_type is none."
  value = (
    var.api_type == "http_api" ? try(aws_apigatewayv2_api.this[0].api_endpoint, null) :
    var.api_type == "function_url" ? try(aws_lambda_function_url.api[0].function_url, null) : null
  )
}

output "schedule_group_name" {
  description = "EventBridge Scheduler group holding the workloads' one-time schedules."
  value       = aws_scheduler_schedule_group.this.name
}

output "schedule_group_arn" {
  description = "ARN of the EventBridge Scheduler group."
  value       = aws_scheduler_schedule_group.this.arn
}

output "control_event_bus_arn" {
  description = "ARN of the control event bus: target state changes, custom runners' completion events and \"Workload Submitted\" events go here."
  value       = aws_cloudwatch_event_bus.control.arn
}

output "runner_event_bus_arns" {
  description = "ARNs of the custom-runner event buses, keyed by Region."
  value       = local.runner_event_bus_arns
}

output "dead_letter_queue_urls" {
  description = "URLs of the dead-letter queues, keyed by function."
  value       = { for k, q in aws_sqs_queue.dlq : k => q.url }
}

output "rejected_submissions_queue_url" {
  description = "URL of the queue that keeps rejected \"Workload Submitted\" events, each with its errors."
  value       = aws_sqs_queue.rejected_submissions.url
}

output "rejected_submissions_queue_arn" {
  description = "ARN of the queue that keeps rejected \"Workload Submitted\" events."
  value       = aws_sqs_queue.rejected_submissions.arn
}

output "alarm_topic_arn" {
  description = "SNS topic the alarms notify, if any."
  value       = try(local.alarm_actions[0], null)
}

output "dashboard_url" {
  description = "Console URL of the CloudWatch dashboard; null when create_dashboard is false."
  value       = module.dashboard.dashboard_url
}

output "api_id" {
  description = "ID of the HTTP API; null unless api_type is http_api."
  value       = try(aws_apigatewayv2_api.this[0].id, null)
}

output "api_execution_arn" {
  description = "Execution ARN of the HTTP API: grant submitters `execute-api:Invoke` on `<api_execution_arn>/*/*/workloads*`; null unless api_type is http_api."
  value       = try(aws_apigatewayv2_api.this[0].execution_arn, null)
}

output "dead_letter_queue_arns" {
  description = "ARNs of the dead-letter queues, keyed by function."
  value       = { for k, q in aws_sqs_queue.dlq : k => q.arn }
}

output "log_group_names" {
  description = "CloudWatch log groups, keyed by function, plus `api-access` (HTTP API access logs) when api_type is http_api."
  value = merge(
    { for k, m in module.function : k => m.log_group_name },
    { for g in aws_cloudwatch_log_group.api : "api-access" => g.name },
  )
}

output "service_role_arns" {
  description = "IAM roles AWS services assume for the module, keyed by role: schedules (EventBridge Scheduler), event-forwarder (EventBridge)."
  value       = local.service_role_arns
}

output "function_policies" {
  description = "JSON IAM policy each function needs, keyed by function: attached to the roles the module creates; grant it to roles passed in function_role_arns."
  value       = { for k, m in module.function : k => m.policy_json }
}

output "service_role_policies" {
  description = "JSON IAM policy each service role needs, keyed by role: attached to the roles the module creates; grant it to roles passed in service_role_arns."
  value       = { for k, s in local.service_role_statements : k => jsonencode({ Version = "2012-10-17", Statement = s }) }
}

output "alarm_arns" {
  description = "ARNs of the CloudWatch alarms, keyed by `<function>-<alarm>` (errors, dead-letters)."
  value       = merge([for f, m in module.function : { for a, arn in m.alarm_arns : "${f}-${a}" => arn }]...)
}

output "fleet_group_names" {
  description = "Auto Scaling group names of each Spot fleet, keyed by fleet and then Region."
  value       = { for k, m in module.fleet : k => m.group_names }
}

output "fleet_group_arns" {
  description = "Auto Scaling group ARNs of each Spot fleet, keyed by fleet and then Region."
  value       = { for k, m in module.fleet : k => m.group_arns }
}

output "fleet_launch_template_ids" {
  description = "Launch template ids of each Spot fleet, keyed by fleet and then Region."
  value       = { for k, m in module.fleet : k => m.launch_template_ids }
}

output "export_bucket" {
  description = "S3 bucket of the export (created, or export_bucket_name); objects under <export_prefix>/<table name>/dt=YYYY-MM-DD/."
  value       = local.export_bucket
}

output "service_alarm_arns" {
  description = "ARNs of the service alarms (high carbon, renewable share, estimates, scheduler lag, stuck workloads, poison records, migration storm, placement-score budget) and of the SLO alarms (burn-rate composites, or attainment where no burn pair is reachable), keyed by name."
  value = merge(
    { for k, a in aws_cloudwatch_metric_alarm.service : k => a.arn },
    { for k, a in aws_cloudwatch_metric_alarm.insights : k => a.arn },
    { for k, a in aws_cloudwatch_composite_alarm.slo : k => a.arn },
    { for k in keys(local.attainment_alarms) : k => aws_cloudwatch_metric_alarm.slo[k].arn if var.create_alarms },
  )
}

output "checkpoint_buckets" {
  description = "Checkpoint bucket of each Region (name, ARN and the KMS key encrypting it, null for the AWS managed key): grant an interruptible workload's task role s3:GetObject and s3:PutObject on checkpoints/* of these, and kms:Decrypt and kms:GenerateDataKey on their keys."
  value = {
    for r, b in aws_s3_bucket.checkpoints : r => { bucket = b.bucket, arn = b.arn, kms_key_arn = local.checkpoint_kms_key_arns[r] }
  }
}
