output "fleet_group_names" {
  description = "Auto Scaling group of the fleet in each Region."
  value       = module.carbon_aware.fleet_group_names["web"]
}

output "fleet_launch_template_ids" {
  description = "Launch template of the fleet in each Region."
  value       = module.carbon_aware.fleet_launch_template_ids["web"]
}

output "api_endpoint" {
  description = "HTTP API: GET /fleets, /fleets/web and /fleets/web/decisions (SigV4-signed)."
  value       = module.carbon_aware.api_endpoint
}

output "dashboard_url" {
  description = "CloudWatch dashboard of the deployment."
  value       = module.carbon_aware.dashboard_url
}
