output "api_endpoint" {
  description = "HTTP API that accepts SigV4-signed workload submissions."
  value       = module.carbon_aware.api_endpoint
}

output "regions" {
  description = "Regions with a regional stack."
  value       = module.carbon_aware.regions
}

output "runner_event_bus_arns" {
  description = "Custom-runner event buses, by Region."
  value       = module.carbon_aware.runner_event_bus_arns
}

output "dashboard_url" {
  description = "CloudWatch dashboard of the deployment."
  value       = module.carbon_aware.dashboard_url
}
