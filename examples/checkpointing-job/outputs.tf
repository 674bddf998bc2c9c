output "api_endpoint" {
  description = "Where workloads are submitted (SigV4)."
  value       = module.carbon_aware.api_endpoint
}

output "targets" {
  description = "The `targets` field of a submission of this job: one Fargate Spot task per Region."
  value = {
    for r in var.regions : r => {
      type            = "ecs"
      arn             = aws_ecs_task_definition.job[r].arn
      cluster         = aws_ecs_cluster.this[r].arn
      spot            = true
      subnets         = var.networks[r].subnet_ids
      security_groups = var.networks[r].security_group_ids
      # The runtime passes each segment its checkpoint environment through the named container.
      overrides = { containerOverrides = [{ name = "job" }] }
    }
  }
}

output "checkpoint_buckets" {
  description = "The module's checkpoint bucket and KMS key in each Region (the task role's grant)."
  value       = module.carbon_aware.checkpoint_buckets
}
