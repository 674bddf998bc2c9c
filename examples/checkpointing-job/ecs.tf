# Per Region: a cluster with Fargate and Fargate Spot, the job's task definition and its logs.

resource "aws_ecs_cluster" "this" {
  for_each = toset(var.regions)

  region = each.key
  name   = local.name

  setting {
    name  = "containerInsights"
    value = "enabled"
  }

  tags = var.tags
}

resource "aws_ecs_cluster_capacity_providers" "this" {
  for_each = aws_ecs_cluster.this

  region             = each.key
  cluster_name       = each.value.name
  capacity_providers = ["FARGATE", "FARGATE_SPOT"]
}

resource "aws_cloudwatch_log_group" "job" {
  #checkov:skip=CKV_AWS_158:Example kept to the wiring; set kms_key_id to a key of yours where policy requires.
  for_each = toset(var.regions)

  region            = each.key
  name              = "/ecs/${local.name}"
  retention_in_days = 365
  tags              = var.tags
}

resource "aws_ecs_task_definition" "job" {
  for_each = toset(var.regions)

  region                   = each.key
  family                   = local.name
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = 1024
  memory                   = 2048
  task_role_arn            = aws_iam_role.task.arn
  execution_role_arn       = aws_iam_role.execution.arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "ARM64"
  }

  container_definitions = jsonencode([{
    name      = "job"
    image     = replace(var.image, "{region}", each.key)
    essential = true
    command   = ["--steps", tostring(var.steps), "--interval", tostring(var.checkpoint_interval_seconds)]
    # SIGTERM, then SIGKILL after this long: the checkpoint budget the runtime passes to the job
    # (CARBON_AWARE_CHECKPOINT_BUDGET_SECONDS). 120 s is the Fargate maximum and the Spot warning.
    stopTimeout            = 120
    readonlyRootFilesystem = true
    user                   = "1000"
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.job[each.key].name
        awslogs-region        = each.key
        awslogs-stream-prefix = "job"
      }
    }
  }])

  tags = var.tags
}
