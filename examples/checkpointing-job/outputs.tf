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
    }
  }
}
