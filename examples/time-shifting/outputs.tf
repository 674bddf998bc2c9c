output "api_endpoint" {
  description = "Function URL that accepts SigV4-signed workload submissions."
  value       = module.carbon_aware.api_endpoint
}

output "dashboard_url" {
  description = "CloudWatch dashboard of the deployment."
  value       = module.carbon_aware.dashboard_url
}

output "function_arns" {
  description = "ARNs of the deployed functions."
  value       = module.carbon_aware.function_arns
}
