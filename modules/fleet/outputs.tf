output "group_names" {
  description = "Auto Scaling group names, keyed by Region."
  value       = { for r, g in aws_autoscaling_group.this : r => g.name }
}

output "group_arns" {
  description = "Auto Scaling group ARNs, keyed by Region."
  value       = { for r, g in aws_autoscaling_group.this : r => g.arn }
}

output "launch_template_ids" {
  description = "Launch template ids, keyed by Region."
  value       = { for r, t in aws_launch_template.this : r => t.id }
}

output "scaling_policy_arns" {
  description = "ARNs of the carbon-aware target-tracking policies, keyed by Region."
  value       = { for r, p in aws_autoscaling_policy.this : r => p.arn }
}

output "settings" {
  description = "The fleet as the fleet_optimizer function reads it (one entry of CARBON_AWARE_FLEETS); null when create is false."
  value = var.create ? {
    regions             = local.ordered
    groups              = { for r, g in aws_autoscaling_group.this : r => g.name }
    instance_types      = local.priced_instance_types
    min_total           = var.min_total
    max_total           = var.max_total
    desired_total       = var.desired_total
    min_share           = { for r, c in var.regions : r => c.min_share }
    max_share           = { for r, c in var.regions : r => c.max_share }
    strategy            = var.strategy
    hysteresis          = var.hysteresis
    dwell_minutes       = var.dwell_minutes
    max_step            = var.max_step
    move_cost_minutes   = var.move_cost_minutes
    lookahead_hours     = var.lookahead_hours
    renewable_threshold = var.renewable_threshold
    scaling_tiers       = [for t in var.scaling_tiers : { below = t.below, target = t.target }]
    scaling_policy_name = local.scaling_policy_name
  } : null
}
